"""Run a build tool in its own process group and judge it by what it writes, not by how (or whether) it exits.

``trtllm-bench build`` is known to hang in MPI teardown after saving the engine. Instead of a blind timeout, the
supervisor watches the output: once the engine config and every rank file exist and their sizes hold still, the
engine is complete and the build's process group is ended. A tool that exits without an engine has failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.engine.engine_config import complete_files
from trtllm_nix.errors import UserError


class BuildFailed(UserError):
    exit_code = 6


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: we ended it after the engine was complete


def run_supervised(
    command: list[str],
    log: Path,
    engine_dir: Callable[[], Path],
    timeout: float,
    env: dict[str, str] | None = None,
    wait_for_exit: bool = False,
) -> Outcome:
    """Run ``command`` until it exits or (unless ``wait_for_exit``) its engine is complete and its sizes have held
    still for a second."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError as error:
        raise BuildFailed(
            f"{command[0]} not found: pass --runtime ROOT (the unpacked TensorRT-LLM image) or run inside it"
        ) from error
    tee = threading.Thread(target=_tee, args=(process, log), daemon=True)
    tee.start()
    last: dict[str, int] | None = None
    stable_since = 0.0
    try:
        while True:
            code = process.poll()
            if code is not None:
                return Outcome(code)
            if not wait_for_exit:
                files = complete_files(engine_dir())
                now = time.monotonic()
                if files is not None and files == last:
                    if now - stable_since >= 1.0:
                        return Outcome(None)
                else:
                    last, stable_since = files, now
            if time.monotonic() - started > timeout:
                raise BuildFailed(f"{Path(command[0]).name} wrote no complete engine in {timeout:.0f} s (log: {log})")
            time.sleep(0.2)
    finally:
        _end_group(process)
        tee.join(timeout=30)


def _tee(process: subprocess.Popen[bytes], log: Path) -> None:
    """Copy the tool's output to the build log and to our stdout as it comes."""
    pipe = process.stdout
    assert pipe is not None
    out = getattr(sys.stdout, "buffer", None)
    with log.open("ab") as output, pipe:
        for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
            output.write(chunk)
            output.flush()
            if out is not None:
                out.write(chunk)
                out.flush()
            else:
                sys.stdout.write(chunk.decode("utf-8", "replace"))


def _end_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        process.wait()
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group (MPI workers)
