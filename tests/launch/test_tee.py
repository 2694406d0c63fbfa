"""Logs in the journal: with TRTLLM_NIX_LOG_TO_STDOUT=1 (the NixOS units) a rank's output reaches stdout, which
systemd gives to journald, as well as its log file (the RuntimeDirectory's files are deleted on stop)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("echo", ["1", ""])
def test_a_ranks_output_is_in_its_log_and_on_stdout_when_asked(tmp_path: Path, echo: str) -> None:
    env = {**os.environ, "TRTLLM_NIX_LOG_TO_STDOUT": echo, "OMPI_COMM_WORLD_RANK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.launch.rank", str(tmp_path), "--", "sh", "-c", "echo loaded; exit 3"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert (tmp_path / "rank1.log").read_bytes() == b"loaded\n"
    assert (tmp_path / "rank1.exit").read_text() == "3\n"
    assert result.stdout == (b"[rank 1] loaded\n" if echo else b"")


@pytest.mark.parametrize("world_size", [1, 2])
def test_the_servers_output_reaches_stdout_and_its_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], world_size: int
) -> None:
    from trtllm_nix.launch.plan import Launch
    from trtllm_nix.launch.runner import RunningServer

    env = {**os.environ, "TRTLLM_NIX_LOG_TO_STDOUT": "1"}
    server = RunningServer(Launch(["sh", "-c", "echo started"], env, {}, "test"), tmp_path, world_size, "", 5)
    server.start()
    assert server.process is not None
    assert server.process.wait(timeout=30) == 0
    assert server.tee is not None
    server.tee.join(timeout=30)
    log = "rank0.log" if world_size == 1 else "mpirun.log"
    assert (tmp_path / log).read_text() == "started\n"
    assert capfd.readouterr().out == ("[rank 0] started\n" if world_size == 1 else "[mpirun] started\n")
