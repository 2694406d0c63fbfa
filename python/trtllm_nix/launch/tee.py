"""A server's output in its log file and, with ``TRTLLM_NIX_LOG_TO_STDOUT=1`` (the NixOS module sets it), also on
our stdout, line by line and prefixed, which systemd hands to journald."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, BinaryIO

from trtllm_nix.errors import ServerError
from trtllm_nix.processes import spawn

if TYPE_CHECKING:
    from trtllm_nix.launch.plan import Launch

LOG_TO_STDOUT = "TRTLLM_NIX_LOG_TO_STDOUT"


def log_to_stdout(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get(LOG_TO_STDOUT, "") not in ("", "0")


def start_tee(source: IO[bytes], log: BinaryIO, prefix: bytes) -> threading.Thread:
    """Copy ``source`` to ``log`` and to our stdout, each line prefixed there, until EOF; then close ``source`` and
    ``log`` (the thread owns both)."""
    out = sys.stdout.buffer

    def copy() -> None:
        for line in iter(source.readline, b""):
            log.write(line)
            log.flush()
            out.write(prefix + line)
            out.flush()
        source.close()
        log.close()

    thread = threading.Thread(target=copy, name="trtllm-nix-tee", daemon=True)
    thread.start()
    return thread


class LoggedServer:
    """A planned launch started (``spawn``: in a session of its own, ending with us) with its output appended to a
    log in ``run_dir``, and on stdout behind a prefix when the launch's environment asks (``tee``: the thread that
    copies it). SIGTERM and SIGINT handled by ``request_stop`` ask for a stop."""

    def __init__(self, launch: Launch, run_dir: Path, exit_timeout: float) -> None:
        self.launch = launch
        self.run_dir = run_dir
        self.exit_timeout = exit_timeout  # seconds from SIGTERM to the end of the server
        self.process: subprocess.Popen[bytes] | None = None
        self.stop_requested = False
        self.tee: threading.Thread | None = None

    def request_stop(self, signum: int, _: FrameType | None) -> None:
        self.stop_requested = True

    def start_logged(self, log: Path, prefix: bytes, missing: str) -> None:
        """``missing``: what to install or pass when the program is not found (a :class:`ServerError`). The run
        folder is made first, with its private ``tmp`` (``plan.run_environment``)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "tmp").mkdir(mode=0o700, exist_ok=True)
        command, environment = self.launch.command, self.launch.environment
        echo = log_to_stdout(environment)
        with log.open("ab") as output:
            try:
                self.process = spawn(
                    command,
                    env=environment,
                    stdout=subprocess.PIPE if echo else output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except FileNotFoundError as error:
                raise ServerError(f"{command[0]} not found: {missing}") from error
        if echo and self.process.stdout is not None:
            self.tee = start_tee(self.process.stdout, log.open("ab"), prefix)


def log_tail(log: Path) -> str | None:
    """The last three lines of ``log`` that hold something, joined; None when there is no log."""
    try:
        lines = log.read_text("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    return " | ".join(line.strip() for line in lines[-3:] if line.strip())
