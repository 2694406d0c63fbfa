"""``trtllm-nix doctor`` against a real Triton, a generated repository and engine folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trtllm_nix.doctor import diagnose
from trtllm_nix.engine.engine_config import read_engine
from trtllm_nix.gpus import Gpu, GpuInventory
from trtllm_nix.repo.generate import RepositorySpec, write_repository
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.test_check import _engine
from tests.helpers import RunningTriton

H100 = GpuInventory(tuple(Gpu(i, "NVIDIA H100 80GB HBM3", (9, 0), 80 << 30, 79 << 30) for i in range(2)), "580")


def test_healthy_triton_and_repository(scripted_triton: RunningTriton) -> None:
    findings = diagnose(None, scripted_triton.server.model_repository, scripted_triton.server.http_url, None)
    assert all(f.ok for f in findings), [f.line() for f in findings]
    assert {"Triton ready", "Triton decoupled tensorrt_llm", "model ensemble", "decoupled mode"} <= {
        f.check for f in findings
    }


def test_finds_the_seeds_problems(tmp_path: Path, assets: Assets) -> None:
    engine = _engine(tmp_path / "engine", tp=4)
    spec = RepositorySpec(
        engine=read_engine(engine), engine_path=str(tmp_path / "elsewhere"), tokenizer_path=assets.tokenizer
    )
    repo = write_repository(spec, tmp_path / "repo")
    failed = {f.check: f.line() for f in diagnose(engine, repo, "http://127.0.0.1:9", H100) if not f.ok}
    assert "MPI size mismatch" in failed["GPU count"]
    assert "Blackwell" in failed["GPU 0 architecture"]
    assert "Both encoder and decoder model paths are empty" in failed["engine path"]
    assert "no answer from" in failed["Triton live"]


def test_cli_exit_code_and_summary(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "engine", tp=4)
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "doctor", "--engine", str(engine), "--no-gpu"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "6 passed, 0 failed"
    (engine / "rank2.engine").unlink()
    broken = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "doctor", "--engine", str(engine), "--no-gpu"],
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 1
    assert "FAIL rank files: 3 of 4 present, missing ['rank2.engine']" in broken.stdout
