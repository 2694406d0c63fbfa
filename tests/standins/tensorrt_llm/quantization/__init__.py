"""``tensorrt_llm.quantization.QuantAlgo``: a StrEnum of the values trtllm-nix uses and the KV-cache algorithms."""

from __future__ import annotations

from enum import Enum

from tensorrt_llm._facts import PYTHON_API

_ALGOS = PYTHON_API["QuantAlgo"]
QuantAlgo = Enum(  # type: ignore[misc]
    "QuantAlgo",
    {name: name for name in sorted({*_ALGOS["values_used"], *_ALGOS["kv_cache_quant_algos"]})},
    type=str,
)
