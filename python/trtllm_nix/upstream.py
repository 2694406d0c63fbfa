"""The committed facts about the pinned upstream (``upstream_facts.json``, written by ``scripts/upstream_facts.py``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def facts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("trtllm_nix").joinpath("upstream_facts.json").read_text("utf-8"))
    return data


def bench_quantizations() -> list[str]:
    """``trtllm-bench build --quantization`` choices of the pinned TensorRT-LLM."""
    return list(facts()["trtllm_bench"]["build_flags"]["--quantization"]["choices"])
