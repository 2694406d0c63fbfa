"""Before a build: enough GPUs, the right architecture for the quantization, enough free memory per rank."""

from __future__ import annotations

import os
from dataclasses import dataclass

from trtllm_nix.engine.sizes import gigabytes
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import Gpu, GpuInventory

BLACKWELL_SMS = (100, 103, 120, 121)
# One headroom for the build (weights plus workspace) and for serving (weights plus activations, before the KV
# cache takes its fraction of what is left): preflight and doctor both call gpu_problems.
MEMORY_HEADROOM = 1.15


class PreflightError(UserError):
    exit_code = 5


@dataclass(frozen=True)
class BuildPlan:
    model: str
    quant_algo: str | None
    tp: int
    pp: int
    rank_bytes: float
    gpu_arch: str | None = None  # what the engine is for (--gpu-arch); None: whatever GPU builds it
    supported_archs: tuple[str, ...] = ()  # what the runtime's TensorRT-LLM line supports (catalog.json)

    @property
    def world_size(self) -> int:
        return self.tp * self.pp


# Inside a Nix build without GPUs: the two ways a build gets them (docs/nix.md).
NIX_ROUTES = (
    " (a Nix build sees GPUs only with --option sandbox false as a trusted user, the seed's route, or as the"
    " .sandboxed output under NixOS programs.nix-required-mounts with presets.nvidia-gpu)"
)


def check_preflight(inventory: GpuInventory, plan: BuildPlan) -> list[str]:
    """Raise :class:`PreflightError` naming what to do; return what was checked, one line each."""
    gpus = inventory.gpus
    if len(gpus) < plan.world_size:
        found = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}" if gpus else "no GPU (NVML found none)"
        routes = NIX_ROUTES if not gpus and "NIX_BUILD_TOP" in os.environ else ""
        raise PreflightError(
            f"TP {plan.tp} x PP {plan.pp} needs {plan.world_size} GPUs, this machine has {found}{routes}; lower --tp, "
            "build on a bigger machine, or pass --skip-preflight to build elsewhere"
        )
    used = gpus[: plan.world_size]
    for gpu in used:
        problems = arch_problems(gpu, plan) + gpu_problems(gpu, plan.quant_algo, plan.rank_bytes)
        if problems:
            raise PreflightError(problems[0][1])
    return [
        f"GPU {g.index}: {g.name}, SM{g.sm}, {gigabytes(g.memory_free)} free of {gigabytes(g.memory_total)}"
        for g in used
    ] + [f"driver {inventory.driver}; {plan.world_size} rank(s) of ~{gigabytes(plan.rank_bytes)}"]


def arch_problems(gpu: Gpu, plan: BuildPlan) -> list[tuple[str, str]]:
    """The engine is for one architecture: a GPU of another would build an engine under a wrong name, and a GPU
    the runtime's TensorRT-LLM line does not support would build one nobody tested."""
    arch = f"sm{gpu.sm}"
    if plan.gpu_arch is not None and arch != plan.gpu_arch:
        return [
            (
                "architecture",
                f"this engine is asked for {plan.gpu_arch}; GPU {gpu.index} is an {_short(gpu.name)} ({arch}): "
                f'build it with --gpu-arch {arch} (Nix: mkEngine {{ gpuArch = "{arch}"; }}) or on a '
                f"{plan.gpu_arch} GPU",
            )
        ]
    if plan.supported_archs and arch not in plan.supported_archs:
        return [
            (
                "architecture",
                f"GPU {gpu.index} is an {_short(gpu.name)} ({arch}); the runtime's TensorRT-LLM line supports "
                f"{', '.join(plan.supported_archs)} (catalog.json runtime.gpu_archs): pin a runtime that lists "
                f"{arch}, or pass --skip-preflight to build anyway",
            )
        ]
    return []


def _short(name: str) -> str:
    for prefix in ("NVIDIA ", "Tesla "):
        name = name.removeprefix(prefix)
    first = name.split()[0] if name.split() else name
    return first.split("-")[0]


def gpu_problems(gpu: Gpu, quant_algo: str | None, rank_bytes: float) -> list[tuple[str, str]]:
    """What keeps one rank of this engine off ``gpu``, as (check, message naming what to do): the architecture the
    quantization needs (NVFP4: Blackwell; FP8: SM89+) and free memory for a rank with :data:`MEMORY_HEADROOM`."""
    problems: list[tuple[str, str]] = []
    if quant_algo == "NVFP4" and gpu.sm not in BLACKWELL_SMS:
        problems.append(
            (
                "architecture",
                f"NVFP4 engines need a Blackwell GPU (SM100/SM120); GPU {gpu.index} is an {_short(gpu.name)} "
                f"(SM{gpu.sm}). Use an FP8 checkpoint such as nvidia/Qwen3-32B-FP8, or build on the GPU that will "
                "serve.",
            )
        )
    if quant_algo == "FP8" and gpu.sm < 89:
        problems.append(
            (
                "architecture",
                f"FP8 engines need SM89 or newer (Ada, Hopper, Blackwell); GPU {gpu.index} is an {_short(gpu.name)} "
                f"(SM{gpu.sm}). Use a BF16 checkpoint, or build on the GPU that will serve.",
            )
        )
    needed = rank_bytes * MEMORY_HEADROOM
    if rank_bytes and gpu.memory_free < needed:
        problems.append(
            (
                "memory",
                f"GPU {gpu.index} has {gigabytes(gpu.memory_free)} free, a rank of this engine needs about "
                f"{gigabytes(needed)}; raise --tp to split it further or free the GPU",
            )
        )
    return problems
