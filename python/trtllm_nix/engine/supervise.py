"""Run a build tool in its own process group and judge it by what it writes, not by how (or whether) it exits.

``trtllm-bench build`` is known to hang in MPI teardown after saving the engine. Instead of a blind timeout, the
supervisor watches the output: once the engine config and every rank file exist and their sizes hold still, the
engine is complete and the build's process group is ended. A tool that exits without an engine has failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import UserError


class BuildFailed(UserError):
    exit_code = 6


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: we ended it after the engine was complete
    seconds: float


def engine_files(folder: Path) -> dict[str, int] | None:
    """Sizes of config.json and every rank file, once the config names the world size; else None."""
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
        mapping = config["pretrained_config"].get("mapping", {})
        world = int(mapping.get("world_size", int(mapping.get("tp_size", 1)) * int(mapping.get("pp_size", 1))))
        config["build_config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    names = ["config.json", *[f"rank{r}.engine" for r in range(world)]]
    try:
        return {name: (folder / name).stat().st_size for name in names}
    except FileNotFoundError:
        return None


def run_supervised(
    command: list[str],
    log: Path,
    engine_dir: Callable[[], Path],
    timeout: float,
    settle: float = 1.0,
    poll: float = 0.2,
    env: dict[str, str] | None = None,
    wait_for_exit: bool = False,
) -> Outcome:
    """Run ``command`` until it exits or (unless ``wait_for_exit``) its engine is complete and settled.

    Under ``nix build`` (``NIX_BUILD_TOP`` set) the log beside the output is in the sandbox and thrown away, so what
    the tool wrote is copied to stderr once it ends, where ``nix log`` keeps it."""
    started = time.monotonic()
    written = log.stat().st_size if log.exists() else 0
    try:
        return _supervise(command, log, engine_dir, timeout, settle, poll, env, wait_for_exit, started)
    finally:
        if os.environ.get("NIX_BUILD_TOP"):
            with contextlib.suppress(OSError), log.open("rb") as output:
                output.seek(written)
                sys.stderr.buffer.write(output.read())
                sys.stderr.flush()


def _supervise(
    command: list[str],
    log: Path,
    engine_dir: Callable[[], Path],
    timeout: float,
    settle: float,
    poll: float,
    env: dict[str, str] | None,
    wait_for_exit: bool,
    started: float,
) -> Outcome:
    with log.open("ab") as output:
        try:
            process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        except FileNotFoundError as error:
            raise BuildFailed(f"{command[0]} not found: run inside the TensorRT-LLM runtime (nix develop)") from error
    last: dict[str, int] | None = None
    stable_since = 0.0
    try:
        while True:
            code = process.poll()
            if code is not None:
                return Outcome(code, time.monotonic() - started)
            if not wait_for_exit:
                files = engine_files(engine_dir())
                now = time.monotonic()
                if files is not None and files == last:
                    if now - stable_since >= settle:
                        return Outcome(None, now - started)
                else:
                    last, stable_since = files, now
            if time.monotonic() - started > timeout:
                raise BuildFailed(f"{Path(command[0]).name} wrote no complete engine in {timeout:.0f} s (log: {log})")
            time.sleep(poll)
    finally:
        _end_group(process)


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
