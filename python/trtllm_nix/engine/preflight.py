"""Before a build: enough GPUs, the right architecture for the quantization, enough free memory per rank."""

from __future__ import annotations

from dataclasses import dataclass

from trtllm_nix.engine.sizes import gigabytes
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import GpuInventory

BLACKWELL_SMS = (100, 103, 120, 121)
MEMORY_HEADROOM = 1.15  # the build holds a rank's weights plus workspace


class PreflightError(UserError):
    exit_code = 5


@dataclass(frozen=True)
class BuildPlan:
    model: str
    quant_algo: str | None
    tp: int
    pp: int
    rank_bytes: float

    @property
    def world_size(self) -> int:
        return self.tp * self.pp


def check_preflight(inventory: GpuInventory, plan: BuildPlan) -> list[str]:
    """Raise :class:`PreflightError` naming what to do; return what was checked, one line each."""
    gpus = inventory.gpus
    if len(gpus) < plan.world_size:
        found = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}" if gpus else "no GPU (NVML found none)"
        raise PreflightError(
            f"TP {plan.tp} x PP {plan.pp} needs {plan.world_size} GPUs, this machine has {found}; lower --tp, "
            "build on a bigger machine, or pass --skip-preflight to build elsewhere"
        )
    used = gpus[: plan.world_size]
    for gpu in used:
        if plan.quant_algo == "NVFP4" and gpu.sm not in BLACKWELL_SMS:
            raise PreflightError(
                f"NVFP4 engines need a Blackwell GPU (SM100/SM120); GPU {gpu.index} is an {_short(gpu.name)} "
                f"(SM{gpu.sm}). Use an FP8 checkpoint such as nvidia/Qwen3-32B-FP8, or build on the GPU that will "
                "serve."
            )
        if plan.quant_algo == "FP8" and gpu.sm < 89:
            raise PreflightError(
                f"FP8 engines need SM89 or newer (Ada, Hopper, Blackwell); GPU {gpu.index} is an {_short(gpu.name)} "
                f"(SM{gpu.sm}). Use a BF16 checkpoint, or build on the GPU that will serve."
            )
        needed = plan.rank_bytes * MEMORY_HEADROOM
        if gpu.memory_free < needed:
            raise PreflightError(
                f"GPU {gpu.index} has {gigabytes(gpu.memory_free)} free, a rank of this engine needs about "
                f"{gigabytes(needed)}; raise --tp to split it further or free the GPU"
            )
    return [
        f"GPU {g.index}: {g.name}, SM{g.sm}, {gigabytes(g.memory_free)} free of {gigabytes(g.memory_total)}"
        for g in used
    ] + [f"driver {inventory.driver}; {plan.world_size} rank(s) of ~{gigabytes(plan.rank_bytes)}"]


def _short(name: str) -> str:
    for prefix in ("NVIDIA ", "Tesla "):
        name = name.removeprefix(prefix)
    first = name.split()[0] if name.split() else name
    return first.split("-")[0]
