"""The narrow seam between trtllm-nix and TensorRT-LLM.

Everything TensorRT-LLM does for a build goes through :class:`TensorrtLlmSeam`: the TensorRT-LLM version, the
per-rank checkpoint conversion, and the ``trtllm-build`` / ``trtllm-bench build`` command lines. The real
implementation lives in :mod:`trtllm_nix.engine.tensorrt_llm_seam`, the only module that imports ``tensorrt_llm``.
Tests load a recording double instead, by ``$TRTLLM_NIX_TENSORRT_LLM_SEAM=module:attribute``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trtllm_nix.errors import SetupError

SEAM_ENV = "TRTLLM_NIX_TENSORRT_LLM_SEAM"
DEFAULT_SEAM = "trtllm_nix.engine.tensorrt_llm_seam:TensorrtLlm"

# Hugging Face architecture -> TensorRT-LLM model class (tensorrt_llm.models).
MODEL_CLASSES = {
    "Qwen3ForCausalLM": "QWenForCausalLM",
    "Qwen2ForCausalLM": "QWenForCausalLM",
    "LlamaForCausalLM": "LLaMAForCausalLM",
    "MistralForCausalLM": "LLaMAForCausalLM",
}


@dataclass(frozen=True)
class BuildLimits:
    max_batch_size: int
    max_seq_len: int
    max_num_tokens: int
    # trtllm-build --gather_context_logits / --gather_generation_logits: prompt scoring (echo + logprobs) and top-k
    # alternatives. Context logits cost fp32 [max_num_tokens x vocab] per step: 4.6 GiB for Qwen3-32B's 8192 x
    # 151936 (docs/evaluation.md).
    gather_context_logits: bool = False
    gather_generation_logits: bool = False

    @property
    def max_input_len(self) -> int:
        return self.max_seq_len - 1


@dataclass(frozen=True)
class ConvertJob:
    """Convert one rank of a Hugging Face checkpoint into a TensorRT-LLM checkpoint, with an explicit QuantConfig."""

    model_dir: str
    checkpoint_dir: str
    model_class: str
    dtype: str
    quant_config: dict[str, Any]
    rank: int
    tp_size: int
    pp_size: int

    @property
    def world_size(self) -> int:
        return self.tp_size * self.pp_size


@dataclass(frozen=True)
class BenchJob:
    """Build an engine with ``trtllm-bench build`` from a Hugging Face checkpoint, in ``workspace``."""

    model: str
    model_dir: Path
    workspace: Path
    tp_size: int
    pp_size: int
    quant_algo: str | None
    limits: BuildLimits


@dataclass(frozen=True)
class BenchBuild:
    command: list[str]
    engine_dir: Path
    environment: dict[str, str] = field(default_factory=dict)


class TensorrtLlmSeam(Protocol):
    def version(self) -> str: ...

    def convert_rank(self, job: ConvertJob) -> None: ...

    def build_command(
        self, checkpoint_dir: Path, engine_dir: Path, workers: int, limits: BuildLimits, quant_algo: str | None
    ) -> list[str]: ...

    def bench_build(self, job: BenchJob) -> BenchBuild: ...


def load_seam(spec: str | None = None) -> TensorrtLlmSeam:
    module_name, _, attribute = (spec or os.environ.get(SEAM_ENV) or DEFAULT_SEAM).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SetupError(f"cannot load the TensorRT-LLM seam {module_name}: {error}") from error
    seam: TensorrtLlmSeam = getattr(module, attribute)()
    return seam
