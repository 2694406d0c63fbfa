"""D17: under ``nix build`` the build log beside the output is lost with the sandbox; what the tool writes must
reach the builder's own output, which ``nix log`` keeps, and the log beside the output as well."""

from __future__ import annotations

from pathlib import Path

import pytest
from trtllm_nix.engine.supervise import run_supervised


def test_the_tools_output_reaches_stdout_and_the_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "engine.build.log"
    log.write_bytes(b"an earlier build\n")
    command = ["sh", "-c", "echo 'converting rank 0'; echo 'out of memory' >&2; exit 3"]
    outcome = run_supervised(command, log, lambda: tmp_path / "engine", timeout=60, wait_for_exit=True)
    assert outcome.returncode == 3
    out = capfd.readouterr().out
    assert "converting rank 0" in out
    assert "out of memory" in out
    assert "an earlier build" not in out  # only this run's output
    assert log.read_text() == "an earlier build\nconverting rank 0\nout of memory\n"
