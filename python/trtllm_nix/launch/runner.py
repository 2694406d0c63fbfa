"""Run a planned launch: wait for readiness and say so, forward SIGTERM/SIGINT so every rank stops, and when a
rank dies stop the rest and exit with a code that names it (10 + rank). A stop we were asked for exits 0."""

from __future__ import annotations

import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from trtllm_nix.errors import ServerError
from trtllm_nix.launch.plan import Launch
from trtllm_nix.launch.tee import LoggedServer, log_tail
from trtllm_nix.processes import end_session, terminate

RANK_EXIT_BASE = 10
_MPIRUN_SIGNAL = re.compile(r"process rank (\d+) with PID \d+ on node \S+ exited on signal (\d+)")
_MPIRUN_EXIT = re.compile(r"Process name: \[\[\d+,\d+\],(\d+)\]\s+Exit code:\s+(\d+)")


class RunningServer(LoggedServer):
    def __init__(self, launch: Launch, run_dir: Path, world_size: int, ready_url: str, exit_timeout: int) -> None:
        super().__init__(launch, run_dir, exit_timeout)
        self.world_size = world_size
        self.ready_url = ready_url

    def start(self) -> None:
        for stale in self.run_dir.glob("rank*.exit"):
            stale.unlink()
        log = self.run_dir / ("rank0.log" if self.world_size == 1 else "mpirun.log")
        prefix = b"[rank 0] " if self.world_size == 1 else b"[mpirun] "
        self.start_logged(log, prefix, "install Open MPI (apt-get install openmpi-bin) or pass --tritonserver")

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready():
            failure = self._rank_failure()
            if failure is not None or (self.process is not None and self.process.poll() is not None):
                self.stop()
                raise ServerError(self._describe_failure(failure, "before it was ready"))
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"not ready after {timeout:.0f} s; logs in {self.run_dir}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.ready_url, timeout=1) as response:  # noqa: S310 - our own server
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _rank_failure(self) -> tuple[int, int] | None:
        """(rank, exit code) of the first rank that exited, if any has (ranks should never exit on their own)."""
        first = min(self.run_dir.glob("rank*.exit"), key=lambda p: p.stat().st_mtime, default=None)
        if first is None:
            return None
        return int(first.stem.removeprefix("rank")), int(first.read_text().strip() or "0")

    def _mpirun_reported(self) -> tuple[int, int] | None:
        """What mpirun said about a rank that ended without its wrapper (killed outright)."""
        try:
            text = (self.run_dir / "mpirun.log").read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        found = _MPIRUN_SIGNAL.search(text)
        if found:
            return int(found.group(1)), 128 + int(found.group(2))
        found = _MPIRUN_EXIT.search(text)
        return (int(found.group(1)), int(found.group(2))) if found else None

    def _describe_failure(self, failure: tuple[int, int] | None, when: str) -> str:
        if failure is None and self.world_size == 1 and self.process is not None:
            failure = (0, self.process.returncode or 0)
        if failure is None:
            failure = self._rank_failure() or self._mpirun_reported()
        if failure is None:
            code = self.process.returncode if self.process else "?"
            return f"mpirun exited with code {code} {when}; logs in {self.run_dir}"
        rank, code = failure
        log = self.run_dir / f"rank{rank}.log"
        tail = log_tail(log)
        tail = "(no log)" if tail is None else tail
        return f"rank {rank} exited with code {code} {when}; the other ranks were stopped. log {log}: {tail}"

    def supervise(self) -> int:
        """Block until the server ends; returns the process exit code the launcher should use."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stop_requested:
                assert self.process is not None
                failure = self._rank_failure()
                if self.process.poll() is not None or failure is not None:
                    self.stop()
                    failure = failure or self._rank_failure() or self._mpirun_reported()
                    print(self._describe_failure(failure, "while serving"), flush=True)
                    rank = failure[0] if failure else 0
                    return RANK_EXIT_BASE + rank
                time.sleep(0.2)
            self.stop()
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, self.exit_timeout + 15)  # mpirun forwards SIGTERM to every rank
            end_session(self.process)  # ranks and their stubs, whatever process group they are in
