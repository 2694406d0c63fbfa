"""D17: under ``nix build`` the build log beside the output is lost with the sandbox; what the tool wrote must
reach stderr, which ``nix log`` keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from trtllm_nix.engine.supervise import run_supervised


def _build(tmp_path: Path) -> int | None:
    log = tmp_path / "engine.build.log"
    log.write_bytes(b"an earlier build\n")
    command = ["sh", "-c", "echo 'converting rank 0'; echo 'out of memory' >&2; exit 3"]
    return run_supervised(command, log, lambda: tmp_path / "engine", timeout=60, wait_for_exit=True).returncode


def test_under_nix_the_tools_output_reaches_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NIX_BUILD_TOP", str(tmp_path))
    assert _build(tmp_path) == 3
    err = capfd.readouterr().err
    assert "converting rank 0" in err
    assert "out of memory" in err
    assert "an earlier build" not in err  # only this run's output


def test_elsewhere_it_stays_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NIX_BUILD_TOP", raising=False)
    assert _build(tmp_path) == 3
    assert "converting" not in capfd.readouterr().err
    assert "converting rank 0" in (tmp_path / "engine.build.log").read_text()
