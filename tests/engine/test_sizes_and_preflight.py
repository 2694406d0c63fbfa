"""The size model (Qwen3-32B) and every preflight refusal, over GPU inventories like NVML reports them."""

from __future__ import annotations

import pytest
from trtllm_nix.engine.preflight import BuildPlan, PreflightError, check_preflight
from trtllm_nix.engine.sizes import QWEN3_32B_CONFIG, Architecture, expected_rank_bytes
from trtllm_nix.gpus import Gpu, GpuInventory

QWEN3_32B = Architecture.from_hf_config(QWEN3_32B_CONFIG)
GiB = 1 << 30


def _gpus(name: str, cc: tuple[int, int], count: int, free_gib: float = 75) -> GpuInventory:
    return GpuInventory(tuple(Gpu(i, name, cc, 80 * GiB, int(free_gib * GiB)) for i in range(count)), "580.159.04")


@pytest.mark.parametrize(("tp", "expected_gb"), [(1, 20.7), (2, 11.1), (4, 6.3)])
def test_qwen3_32b_nvfp4_sizes(tp: int, expected_gb: float) -> None:
    assert round(expected_rank_bytes(QWEN3_32B, "NVFP4", tp) / 1e9, 1) == expected_gb


def test_bf16_is_about_65_gb() -> None:
    assert 65 <= expected_rank_bytes(QWEN3_32B, None, 1) / 1e9 < 66


def _plan(quant: str | None = "NVFP4", tp: int = 1) -> BuildPlan:
    return BuildPlan("nvidia/Qwen3-32B-NVFP4", quant, tp, 1, expected_rank_bytes(QWEN3_32B, quant, tp))


def test_blackwell_passes() -> None:
    lines = check_preflight(_gpus("NVIDIA B200", (10, 0), 4), _plan(tp=4))
    assert lines[0].startswith("GPU 0: NVIDIA B200, SM100")
    assert check_preflight(_gpus("NVIDIA RTX PRO 6000 Blackwell", (12, 0), 1), _plan())


def test_nvfp4_on_hopper_says_what_to_do() -> None:
    with pytest.raises(PreflightError) as raised:
        check_preflight(_gpus("NVIDIA H100 80GB HBM3", (9, 0), 1), _plan())
    assert str(raised.value) == (
        "NVFP4 engines need a Blackwell GPU (SM100/SM120); GPU 0 is an H100 (SM90). Use an FP8 checkpoint such as "
        "nvidia/Qwen3-32B-FP8, or build on the GPU that will serve."
    )


def test_fp8_needs_sm89() -> None:
    assert check_preflight(_gpus("NVIDIA H100 80GB HBM3", (9, 0), 1), _plan("FP8"))
    with pytest.raises(PreflightError, match=r"FP8 engines need SM89 or newer .* GPU 0 is an A100 \(SM80\)"):
        check_preflight(_gpus("NVIDIA A100-SXM4-80GB", (8, 0), 1), _plan("FP8"))


def test_too_few_gpus() -> None:
    with pytest.raises(PreflightError, match="TP 4 x PP 1 needs 4 GPUs, this machine has 2 GPUs"):
        check_preflight(_gpus("NVIDIA B200", (10, 0), 2), _plan(tp=4))
    with pytest.raises(PreflightError, match="this machine has no GPU"):
        check_preflight(GpuInventory(()), _plan())


def test_not_enough_free_memory() -> None:
    with pytest.raises(PreflightError, match=r"GPU 0 has 10.7 GB free, a rank of this engine needs about 23.8 GB"):
        check_preflight(_gpus("NVIDIA B200", (10, 0), 1, free_gib=10), _plan())


def test_nvlink_between() -> None:
    inventory = GpuInventory(_gpus("NVIDIA B200", (10, 0), 3).gpus, nvlink_pairs=frozenset({(0, 1)}))
    assert inventory.nvlink_between([0, 1])
    assert not inventory.nvlink_between([0, 1, 2])
