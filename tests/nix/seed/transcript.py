"""Commands typed as a user of the seed would type them (``bash -c``, as that user, through the daemon), each
printed with its output and exit status: the transcript ``make nix-seed`` shows."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from trtllm_nix.processes import kill_session


@dataclass
class Transcript:
    sinks: list[IO[str]]
    cwd: Path
    env: dict[str, str]
    user: str
    background: list[Background] = field(default_factory=list)

    def _argv(self, command: str) -> list[str]:
        return ["setpriv", *_as(self.user), "--", "bash", "-c", command]

    def run(self, command: str, expect: int | None = 0, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        self.say(f"{self.user}$ {command}")
        started = time.monotonic()
        result = subprocess.run(
            self._argv(command), cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        for line in (result.stdout + result.stderr).splitlines():
            self.say(f"  {line}")
        self.say(f"  [exit {result.returncode}, {time.monotonic() - started:.1f} s]")
        if expect is not None and result.returncode != expect:
            raise SeedFailed(f"{command!r} exited {result.returncode}, expected {expect}")
        return result

    def start(self, command: str, ready: str, timeout: float = 600) -> Background:
        """``command &``: returns once ``ready`` was printed (its output goes on into the transcript)."""
        self.say(f"{self.user}$ {command} &")
        process = subprocess.Popen(
            self._argv(command), cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        job = Background(command, process, self)
        self.background.append(job)
        if not job.wait_for(ready, timeout):
            raise SeedFailed(f"{command!r} did not print {ready!r} within {timeout:.0f} s")
        return job

    def stop_all(self) -> None:
        for job in reversed(self.background):
            job.stop()
        self.background.clear()

    def say(self, line: str) -> None:
        for sink in self.sinks:
            sink.write(line + "\n")
            sink.flush()


def _as(user: str) -> list[str]:
    return [f"--reuid={user}", f"--regid={user}", "--init-groups"]


class SeedFailed(Exception):
    pass


@dataclass
class Background:
    command: str
    process: subprocess.Popen[str]
    transcript: Transcript
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.transcript.say(f"  [{shlex.split(self.command)[2]}] {line.rstrip()}")
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, marker: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(marker in line for line in self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    return False
                self._seen.wait(min(remaining, 1.0))
            return True

    def stop(self) -> None:
        """Ctrl-C, as a user ends `nix run` in a terminal; then whatever is left of its session."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        kill_session(self.process.pid)
        self.process.wait()
        self._reader.join(10)
        self.transcript.say(f"  [{self.command}: stopped, exit {self.process.returncode}]")
