"""A server's output in its log file and, with ``TRTLLM_NIX_LOG_TO_STDOUT=1`` (the NixOS module sets it), also on
our stdout, line by line and prefixed, which systemd hands to journald."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, BinaryIO

from trtllm_nix.errors import ServerError
from trtllm_nix.processes import spawn

LOG_TO_STDOUT = "TRTLLM_NIX_LOG_TO_STDOUT"


def log_to_stdout(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get(LOG_TO_STDOUT, "") not in ("", "0")


def start_tee(source: IO[bytes], log: BinaryIO, prefix: bytes = b"", echo: BinaryIO | None = None) -> threading.Thread:
    """Copy ``source`` to ``log`` and to ``echo`` (default: our stdout), each line prefixed there, until EOF; then
    close ``source`` and ``log`` (the thread owns both)."""
    out = echo if echo is not None else sys.stdout.buffer

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


def start_logged(
    command: list[str], environment: dict[str, str], log: Path, prefix: bytes, missing: str
) -> tuple[subprocess.Popen[bytes], threading.Thread | None]:
    """Start a server (``spawn``: in a session of its own, ending with us) with its output appended to ``log``, and
    on stdout behind ``prefix`` when ``environment`` asks (then the thread that copies it). ``missing``: what to
    install or pass when ``command[0]`` is not found (a :class:`ServerError`)."""
    echo = log_to_stdout(environment)
    with log.open("ab") as output:
        try:
            process = spawn(
                command,
                env=environment,
                stdout=subprocess.PIPE if echo else output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except FileNotFoundError as error:
            raise ServerError(f"{command[0]} not found: {missing}") from error
    if not echo or process.stdout is None:
        return process, None
    return process, start_tee(process.stdout, log.open("ab"), prefix)
