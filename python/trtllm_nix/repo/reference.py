"""A model repository whose ``tensorrt_llm`` is the CPU reference backend (demo and tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from trtllm_nix.repo.tensorrt_llm_model import (
    REFERENCE_MODEL_PY,
    ReferenceBackend,
    TensorrtLlmOptions,
    tensorrt_llm_config,
)
from trtllm_nix.repo.writer import write_model


def write_reference_repository(
    out: Path,
    mode: Literal["scripted", "hf"],
    tokenizer_dir: Path,
    model_dir: Path | None = None,
    stats_file: Path | None = None,
    max_batch_size: int = 64,
) -> Path:
    reference = ReferenceBackend(
        mode=mode,
        tokenizer_dir=str(tokenizer_dir),
        model_dir=str(model_dir or ""),
        stats_file=str(stats_file or ""),
    )
    config = tensorrt_llm_config(max_batch_size, str(model_dir or ""), TensorrtLlmOptions(), reference)
    write_model(out, config, {"model.py": REFERENCE_MODEL_PY})
    return out
