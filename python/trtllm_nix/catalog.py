"""The model catalog (``catalog.json``): the same file Nix reads, so both sides use the same values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from trtllm_nix.engine.seam import BuildLimits
from trtllm_nix.errors import UserError


@dataclass(frozen=True)
class Variant:
    model: str
    name: str
    hf_id: str
    revision: str | None
    quant: str
    served_name: str
    tp: int
    pp: int
    limits: BuildLimits


@cache
def catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("trtllm_nix").joinpath("catalog.json").read_text("utf-8"))
    return data


def ports() -> dict[str, int]:
    return dict(catalog()["ports"])


def variant(reference: str) -> Variant:
    """``qwen3-32b/tp4`` (model/variant) from the catalog."""
    model, _, name = reference.partition("/")
    models = catalog()["models"]
    if model not in models or name not in models[model]["variants"]:
        known = [f"{m}/{v}" for m in sorted(models) for v in sorted(models[m]["variants"])]
        raise UserError(f"no catalog variant {reference!r}; known: {', '.join(known)}")
    entry = models[model]
    values = entry["variants"][name]
    return Variant(
        model=model,
        name=name,
        hf_id=entry["hf_id"],
        revision=entry["revision"],
        quant=entry["quant"],
        served_name=entry["served_name"],
        tp=values["tp"],
        pp=values["pp"],
        limits=BuildLimits(
            values["max_batch_size"],
            values["max_seq_len"],
            values["max_num_tokens"],
            bool(values.get("gather_context_logits", False)),  # a variant may be built for prompt scoring
            bool(values.get("gather_generation_logits", False)),
        ),
    )


def runtime_gpu_archs() -> tuple[str, ...]:
    """The GPU architectures the pinned TensorRT-LLM line supports (catalog.json runtime.gpu_archs, with source)."""
    return tuple(catalog()["runtime"]["gpu_archs"])
