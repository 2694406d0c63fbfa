"""A complete repository whose ``tensorrt_llm`` is the CPU reference backend (demo, tests, benchmarks): the
product's generator (``trtllm_nix.repo``) with the testkit's model in place of the C++ backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from trtllm_nix.engine.engine_config import EngineInfo
from trtllm_nix.repo.generate import RepositorySpec, write_repository
from trtllm_nix.repo.tensorrt_llm_model import ReferenceBackend
from trtllm_nix.repo.text_models import sources_prelude

import trtllm_nix_testkit


def reference_engine(
    max_batch_size: int = 64, max_seq_len: int = 4096, tp_size: int = 1, gather_logits: bool = True
) -> EngineInfo:
    """What a repository needs to know about an engine, for the reference backend that has none."""
    return EngineInfo(
        architecture="Qwen3ForCausalLM",
        dtype="float32",
        tp_size=tp_size,
        pp_size=1,
        max_batch_size=max_batch_size,
        max_seq_len=max_seq_len,
        max_input_len=max_seq_len,
        max_num_tokens=max_seq_len,
        vocab_size=151936,
        quant_algo=None,
        kv_cache_quant_algo=None,
        trtllm_version="reference",
        paged_context_fmha=True,
        config_sha256="",
        gather_context_logits=gather_logits,
        gather_generation_logits=gather_logits,
    )


def reference_model_py() -> str:
    """The reference ``tensorrt_llm`` model's ``1/model.py``: the stub (isolated mode, no PYTHONPATH) finds the
    product's sources and the testkit's by the paths written here, then re-exports the testkit's model."""
    testkit = json.dumps(str(Path(trtllm_nix_testkit.__file__).resolve().parent.parent))
    return (
        '"""The trtllm-nix reference backend, standing in for TensorRT-LLM (see trtllm_nix_testkit.reference)."""\n\n'
        f"{sources_prelude()}"
        f"if {testkit} not in sys.path:\n    sys.path.append({testkit})\n\n"
        "from trtllm_nix_testkit.reference.triton_model import TritonPythonModel\n\n"
        '__all__ = ["TritonPythonModel"]\n'
    )


def write_reference_repository(
    out: Path,
    mode: Literal["scripted", "hf"],
    tokenizer_dir: Path,
    model_dir: Path | None = None,
    stats_file: Path | None = None,
    max_batch_size: int = 64,
    tp_size: int = 1,
    guided_decoding: bool = True,  # the tests and the demo serve structured outputs
    max_seq_len: int = 4096,
    gather_logits: bool = True,  # prompt scoring and top-k alternatives (the tests and the demo's evaluation)
) -> Path:
    tokenizer_dir = tokenizer_dir.resolve()
    model_dir = model_dir.resolve() if model_dir else None
    stats_file = stats_file.resolve() if stats_file else None
    reference = ReferenceBackend(
        mode=mode,
        tokenizer_dir=str(tokenizer_dir),
        model_py=reference_model_py(),
        model_dir=str(model_dir or ""),
        stats_file=str(stats_file or ""),
    )
    spec = RepositorySpec(
        engine=reference_engine(max_batch_size, max_seq_len=max_seq_len, tp_size=tp_size, gather_logits=gather_logits),
        engine_path=str(model_dir or ""),
        tokenizer_path=tokenizer_dir,
        backend="reference",
        reference=reference,
        guided_decoding=guided_decoding,
    )
    return write_repository(spec, out, force=True)
