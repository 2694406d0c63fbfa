"""Logs that also reach the journal: with ``TRTLLM_NIX_LOG_TO_STDOUT=1`` (the NixOS module sets it) a rank's or
mpirun's output is copied, line by line, to its log file and to our stdout, which systemd hands to journald."""

from __future__ import annotations

import os
import sys
import threading
from typing import IO, BinaryIO

LOG_TO_STDOUT = "TRTLLM_NIX_LOG_TO_STDOUT"


def log_to_stdout(environ: dict[str, str] | None = None) -> bool:
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
