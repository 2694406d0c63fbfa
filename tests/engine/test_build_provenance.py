"""Engines that say what built them: the architecture asked for is the one built on (a GPU of another is refused
before anything is written), and build-info.json names the weights by Hub id, revision and hash, never by the
store path that would keep 20 GB of weights alive as long as the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trtllm_nix.engine.build import BuildRequest, build_engine, without_store_hash
from trtllm_nix.engine.preflight import BuildPlan, PreflightError, check_preflight
from trtllm_nix.engine.seam import BuildLimits
from trtllm_nix.gpus import Gpu, GpuInventory
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.checkpoints import make_checkpoint

RTX_PRO = GpuInventory((Gpu(0, "NVIDIA RTX PRO 6000 Blackwell Server Edition", (12, 0), 96 << 30, 94 << 30),), "580.1")
B200 = GpuInventory((Gpu(0, "NVIDIA B200", (10, 0), 180 << 30, 170 << 30),), "580.1")
LIMITS = BuildLimits(max_batch_size=8, max_seq_len=4096, max_num_tokens=2048)
STORE = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-qwen3-32b-weights-0123456789ab"


def plan(gpu_arch: str | None, supported: tuple[str, ...] = ()) -> BuildPlan:
    return BuildPlan("m", "NVFP4", 1, 1, 1 << 30, gpu_arch, supported)


def test_an_engine_asked_for_sm100_is_refused_on_an_sm120_gpu() -> None:
    with pytest.raises(PreflightError, match=r"asked for sm100; GPU 0 is an RTX \(sm120\): build it with --gpu-arch"):
        check_preflight(RTX_PRO, plan("sm100"))
    assert check_preflight(B200, plan("sm100"))


def test_a_gpu_the_runtimes_tensorrt_llm_line_does_not_list_is_refused() -> None:
    with pytest.raises(PreflightError, match=r"supports sm100, sm103, sm121 \(catalog.json runtime.gpu_archs\)"):
        check_preflight(RTX_PRO, plan(None, ("sm100", "sm103", "sm121")))
    assert check_preflight(B200, plan(None, ("sm100", "sm103", "sm121")))


def test_build_info_names_the_source_not_the_store_path(tmp_path: Path, assets: Assets, seam_record: Path) -> None:
    model = make_checkpoint(tmp_path / "ckpt", "NVFP4", "inline", tokenizer=assets.tokenizer)
    source = {"hf_id": "nvidia/Qwen3-32B-NVFP4", "revision": "0" * 40, "weights_hash": "sha256-x"}
    request = BuildRequest(str(model), tmp_path / "engine", 1, LIMITS, gpu_arch="sm100", provenance=source)
    out = build_engine(request, inventory=B200)
    info = json.loads((out / "build-info.json").read_text())
    assert info["source"] == source
    assert info["gpu_arch"] == "sm100"
    assert without_store_hash(STORE) == "qwen3-32b-weights-0123456789ab"
    assert without_store_hash(str(model)) == str(model), "a folder outside the store is kept as given"
    assert "/nix/store/" not in without_store_hash(STORE)
