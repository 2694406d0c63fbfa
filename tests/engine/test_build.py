"""Builds through the recording double: explicit QuantConfig per rank, real command lines, both strategies,
a build that hangs after saving, one that saves nothing, and output that appears whole or not at all."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trtllm_nix.engine.build import BuildRequest, build_engine, parallel_conversions
from trtllm_nix.engine.engine_config import read_engine
from trtllm_nix.engine.seam import BuildLimits
from trtllm_nix.engine.supervise import BuildFailed
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import Gpu, GpuInventory
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.checkpoints import make_checkpoint
from tests.engine.conftest import calls

B200 = GpuInventory(tuple(Gpu(i, "NVIDIA B200", (10, 0), 180 << 30, 170 << 30) for i in range(4)), "580.1")
LIMITS = BuildLimits(max_batch_size=32, max_seq_len=4096, max_num_tokens=2048)


def _request(tmp_path: Path, assets: Assets, tp: int = 1, **fields: object) -> BuildRequest:
    # trtllm-bench 1.1 reads only the nested hf_quant_config.json; the checkpoint strategy takes every shape.
    shape = "legacy" if fields.get("strategy") == "bench" else "inline"
    model = make_checkpoint(tmp_path / "ckpt", "NVFP4", shape, tokenizer=assets.tokenizer)
    return BuildRequest(
        **{"model": str(model), "out": tmp_path / "out" / "engine", "tp": tp, "limits": LIMITS, **fields}
    )  # type: ignore[arg-type]


def _leftovers(request: BuildRequest) -> list[str]:
    return sorted(p.name for p in request.out.parent.iterdir() if p.name.startswith(".") and p.is_dir())


@pytest.mark.parametrize("tp", [1, 2, 4])
def test_checkpoint_strategy(tmp_path: Path, assets: Assets, seam_record: Path, tp: int) -> None:
    request = _request(tmp_path, assets, tp=tp)
    out = build_engine(request, inventory=B200)
    recorded = calls(seam_record)
    converts = sorted((c for c in recorded if c["call"] == "convert_rank"), key=lambda c: c["rank"])
    assert [(c["rank"], c["tp"], c["pp"]) for c in converts] == [(r, tp, 1) for r in range(tp)]
    assert all(
        c["quant"]
        == {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8", "group_size": 16, "exclude_modules": ["lm_head"]}
        for c in converts
    )
    build_args = next(c for c in recorded if c["call"] == "build_command")["args"]
    assert build_args[build_args.index("--max_batch_size") + 1] == "32"
    assert build_args[build_args.index("--gemm_plugin") + 1] == "nvfp4"
    assert build_args[build_args.index("--workers") + 1] == str(min(tp, os.cpu_count() or 1))
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["build-info.json", "config.json", "tokenizer", *[f"rank{r}.engine" for r in range(tp)]])
    assert "build_config" in json.loads((out / "config.json").read_text())
    assert sorted(p.name for p in (out / "tokenizer").iterdir()) == [
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    info = json.loads((out / "build-info.json").read_text())
    assert (info["quant"]["quant_algo"], info["tp_size"], info["tensorrt_llm_version"]) == ("NVFP4", tp, "1.1.0")
    assert info["gpu"] == {"name": "NVIDIA B200", "sm": 100, "driver": "580.1"}
    assert {"convert_s", "build_s", "total_s"} <= info["durations"].keys()
    assert _leftovers(request) == []


def test_gather_context_logits_is_built_and_read_back(tmp_path: Path, assets: Assets, seam_record: Path) -> None:
    limits = dataclasses.replace(LIMITS, gather_context_logits=True)
    out = build_engine(_request(tmp_path, assets, limits=limits), inventory=B200)
    build_args = next(c for c in calls(seam_record) if c["call"] == "build_command")["args"]
    assert "--gather_context_logits" in build_args
    assert "--gather_generation_logits" not in build_args
    info = read_engine(out)
    assert (info.gather_context_logits, info.gather_generation_logits) == (True, False)
    assert info.manifest()["gather_context_logits"] is True


def test_bench_strategy(tmp_path: Path, assets: Assets, seam_record: Path) -> None:
    out = build_engine(_request(tmp_path, assets, tp=2, strategy="bench"), inventory=B200)
    args = next(c for c in calls(seam_record) if c["call"] == "bench_build")["args"]
    assert args[args.index("--quantization") + 1] == "NVFP4"
    assert args[args.index("--tp_size") + 1] == "2"
    assert (out / "rank1.engine").is_file()


def test_bench_build_that_hangs_after_saving_is_ended_and_succeeds(
    tmp_path: Path, assets: Assets, seam_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BENCH_MODE", "hang_after_save")
    started = time.monotonic()
    out = build_engine(_request(tmp_path, assets, strategy="bench", timeout=120), inventory=B200)
    assert time.monotonic() - started < 60
    info = json.loads((out / "build-info.json").read_text())
    assert info["durations"]["ended_by_supervisor"] == 1.0
    hung = subprocess.run(["pgrep", "-f", "tests.engine.fake_tools bench"], capture_output=True, text=True)
    assert hung.stdout.strip() == "", "the hung build's process group was ended"


def test_bench_build_that_saves_nothing_fails_and_writes_nothing(
    tmp_path: Path, assets: Assets, seam_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BENCH_MODE", "save_nothing")
    request = _request(tmp_path, assets, strategy="bench")
    with pytest.raises(BuildFailed, match="trtllm-bench exited with code 1 without writing an engine") as error:
        build_engine(request, inventory=B200)
    assert not request.out.exists()
    assert _leftovers(request) == []
    kept = request.out.parent / "engine.failed-build"
    log = request.out.parent / "engine.build.log"
    assert f"(log: {log}); the staging folder is kept at {kept}" in str(error.value)
    assert "out of memory during engine build" in log.read_text()  # what the tool said, readable after it failed
    assert (kept / "engine").is_dir()


def test_failed_conversion_leaves_no_partial_output(tmp_path: Path, assets: Assets, seam_record: Path) -> None:
    request = _request(tmp_path, assets, tp=2, force=True)
    config_path = Path(request.model) / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "torch_dtype": "float32"}))
    request.out.mkdir(parents=True)
    (request.out / "previous-engine.txt").write_text("untouched")
    with pytest.raises(AssertionError, match="unsupported dtype float32"):
        build_engine(request, inventory=B200)
    assert [p.name for p in request.out.iterdir()] == ["previous-engine.txt"]
    assert _leftovers(request) == []


def test_preflight_refuses_before_anything_is_written(tmp_path: Path, assets: Assets, seam_record: Path) -> None:
    hopper = GpuInventory((Gpu(0, "NVIDIA H100 80GB HBM3", (9, 0), 80 << 30, 79 << 30),))
    request = _request(tmp_path, assets)
    with pytest.raises(UserError, match="NVFP4 engines need a Blackwell GPU"):
        build_engine(request, inventory=hopper)
    assert calls(seam_record) == []
    assert not request.out.parent.exists() or _leftovers(request) == []
    out = build_engine(BuildRequest(**{**request.__dict__, "skip_preflight": True}), inventory=hopper)
    assert json.loads((out / "build-info.json").read_text())["preflight_skipped"] is True


def test_cli_refuses_a_non_empty_out_and_unknown_variants(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep")
    run = [sys.executable, "-m", "trtllm_nix.cli", "engine", "build"]
    result = subprocess.run(
        [*run, "--model", str(tmp_path), "--tp", "1", "--out", str(tmp_path / "out")], capture_output=True, text=True
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"trtllm-nix engine: error: --out {tmp_path / 'out'} is not empty; pass --force to replace it",
    )
    unknown = subprocess.run(
        [*run, "--variant", "qwen3-32b/tp3", "--out", str(tmp_path / "o2")], capture_output=True, text=True
    )
    assert "no catalog variant 'qwen3-32b/tp3'; known: qwen3-32b/tp1, qwen3-32b/tp2, qwen3-32b/tp4" in unknown.stderr


@pytest.mark.parametrize(
    ("shape", "said"), [("flat", "flat, ModelOpt 1.0"), ("inline", "config.json quantization_config")]
)
def test_bench_strategy_refuses_shapes_trtllm_bench_cannot_read(
    tmp_path: Path, assets: Assets, seam_record: Path, shape: str, said: str
) -> None:
    model = make_checkpoint(tmp_path / "ckpt", "NVFP4", shape, tokenizer=assets.tokenizer)  # type: ignore[arg-type]
    request = BuildRequest(model=str(model), out=tmp_path / "out" / "engine", tp=1, limits=LIMITS, strategy="bench")
    with pytest.raises(UserError, match=r"reads only the nested hf_quant_config\.json") as error:
        build_engine(request, inventory=B200)
    assert said in str(error.value)
    assert "--strategy checkpoint" in str(error.value)
    assert calls(seam_record) == []


@pytest.mark.parametrize(
    ("world", "checkpoint_gb", "memory_gb", "parallel"),
    [
        (4, 1.2, 64, 4),  # a small model: every rank at once (the 32B guess allowed 3)
        (4, 65.5, 128, 3),  # Qwen3-32B bf16: a rank's 16.4 GB (+25%) fits half of 128 GB three times (guess: 4)
        (8, 20.7, 64, 8),  # NVFP4 32B (the guess: 6)
        (2, 65.5, 64, 1),
    ],
)
def test_parallel_conversions_follow_the_checkpoints_size(
    world: int, checkpoint_gb: float, memory_gb: int, parallel: int
) -> None:
    """D18: it assumed a 32B model (40 GB) whatever was converted."""
    assert parallel_conversions(world, int(checkpoint_gb * 1e9), int(memory_gb * 1e9)) == parallel


def test_the_engine_is_copied_where_the_output_refuses_a_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Nix's build sandbox the staging folder (/build) and $out (/nix/store) are bind mounts of one disk: the same
    st_dev, yet rename(2) fails with EXDEV (seen in make nix-seed's sandboxed engine build)."""
    from trtllm_nix.engine import build

    engine = tmp_path / "staging" / "engine"
    (engine / "tokenizer").mkdir(parents=True)
    (engine / "config.json").write_text("{}")
    (engine / "tokenizer" / "tokenizer.json").write_text("{}")

    def cross_device(self: Path, target: Path) -> Path:
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(self), None, str(target))

    monkeypatch.setattr(Path, "rename", cross_device)
    build._place(engine, tmp_path / "out")
    assert (tmp_path / "out" / "config.json").read_text() == "{}"
    assert (tmp_path / "out" / "tokenizer" / "tokenizer.json").is_file()
