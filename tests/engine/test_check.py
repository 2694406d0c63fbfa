"""``engine check``: every failure is found, named with the seed's symptom, and makes the exit code non-zero."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from trtllm_nix.engine.check import check_engine
from trtllm_nix.engine.sizes import QWEN3_32B_CONFIG

from tests.engine.checkpoints import make_checkpoint
from tests.engine.fake_tools import arch_fields, write_engine


def _engine(
    folder: Path, quant: str | None = "NVFP4", tp: int = 4, recorded_quant: str | None = "NVFP4", recorded_tp: int = 4
) -> Path:
    pretrained = {
        "architecture": "QWenForCausalLM",
        **arch_fields(QWEN3_32B_CONFIG),
        "mapping": {"world_size": tp, "tp_size": tp, "pp_size": 1},
        "quantization": {"quant_algo": quant, "kv_cache_quant_algo": "FP8" if quant else None},
    }
    write_engine(folder, pretrained, {"max_batch_size": 32, "max_seq_len": 32768})
    (folder / "build-info.json").write_text(
        json.dumps({"quant": {"quant_algo": recorded_quant}, "tp_size": recorded_tp, "pp_size": 1})
    )
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "tokenizer.json").write_text("{}")
    return folder


def _failed(folder: Path) -> dict[str, str]:
    return {f.check: f.line() for f in check_engine(folder) if not f.ok}


def test_a_good_tp4_engine_passes(tmp_path: Path) -> None:
    findings = check_engine(_engine(tmp_path))
    assert all(f.ok for f in findings), [f.line() for f in findings]
    size = next(f for f in findings if f.check == "engine size")
    assert "4 rank(s) of 6.3 GB, expected 6.3 GB" in size.detail


def _hf_config(folder: Path) -> None:
    (folder / "config.json").write_text(json.dumps({"architectures": ["Qwen3ForCausalLM"], **QWEN3_32B_CONFIG}))


BREAKAGES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "HF config copied over": (_hf_config, "engine config", "key 'builder_config' not found"),
    "no config": (lambda f: (f / "config.json").unlink(), "engine config", "is missing"),
    "quant not applied": (lambda f: _engine(f, quant=None, recorded_quant="NVFP4"), "quantization", "unounouno"),
    "BF16-sized ranks": (
        lambda f: [os.truncate(f / f"rank{r}.engine", 16_500_000_000) for r in range(4)],
        "engine size",
        "BF16-sized: quantization was not applied",
    ),
    "wrong TP": (lambda f: _engine(f, recorded_tp=2), "parallelism", "MPI size mismatch"),
    "missing rank": (lambda f: (f / "rank3.engine").unlink(), "rank files", "only rank 0 was converted"),
    "truncated rank": (lambda f: os.truncate(f / "rank1.engine", 1000), "engine size", "truncated"),
    "no tokenizer": (lambda f: shutil.rmtree(f / "tokenizer"), "tokenizer", "20 GB"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_failure_is_named_with_its_fix(tmp_path: Path, breakage: str) -> None:
    folder = _engine(tmp_path / "engine")
    if breakage in ("quant not applied", "wrong TP"):
        shutil.rmtree(folder)
    damage, check, symptom = BREAKAGES[breakage]
    damage(folder)
    failed = _failed(folder)
    assert check in failed, failed
    assert symptom in failed[check]
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "engine", "check", str(folder)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"FAIL {check}:" in result.stdout


def test_check_accepts_explicit_expectations(tmp_path: Path) -> None:
    folder = _engine(tmp_path)
    assert "quantization" in {f.check for f in check_engine(folder, expected_quant="FP8") if not f.ok}
    assert "parallelism" in {f.check for f in check_engine(folder, expected_tp=8) if not f.ok}


def test_tiny_nvfp4_checkpoint_sizes_through_the_model(tmp_path: Path) -> None:
    """The size model and an independent byte count of the same tiny architecture agree; BF16 is refused."""
    from trtllm_nix.engine.sizes import Architecture, expected_rank_bytes

    config = json.loads((make_checkpoint(tmp_path / "ckpt", "NVFP4") / "config.json").read_text())
    for quant in ("NVFP4", None):
        folder = tmp_path / f"engine-{quant}"
        pretrained = {
            **arch_fields(config),
            "mapping": {"world_size": 1, "tp_size": 1, "pp_size": 1},
            "quantization": {"quant_algo": quant},
        }
        write_engine(folder, pretrained, {"max_batch_size": 1, "max_seq_len": 64})
        (folder / "tokenizer").mkdir()
        (folder / "tokenizer" / "tokenizer.json").write_text("{}")
        expected = expected_rank_bytes(Architecture.from_hf_config(config), quant, 1)
        assert abs((folder / "rank0.engine").stat().st_size - expected) < 2
        failed = {f.check for f in check_engine(folder, expected_quant="NVFP4") if not f.ok}
        assert failed == (set() if quant else {"quantization"})
