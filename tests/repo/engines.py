"""Engine folders as TensorRT-LLM's builder writes them (config.json + rank files), small enough for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def engine_config(
    tp: int = 1,
    pp: int = 1,
    max_batch_size: int = 8,
    max_seq_len: int = 16384,
    max_num_tokens: int = 8192,
    quant_algo: str | None = "NVFP4",
) -> dict[str, Any]:
    return {
        "version": "1.1.0",
        "pretrained_config": {
            "architecture": "Qwen3ForCausalLM",
            "dtype": "bfloat16",
            "vocab_size": 151936,
            "hidden_size": 5120,
            "num_hidden_layers": 64,
            "num_attention_heads": 64,
            "num_key_value_heads": 8,
            "head_size": 128,
            "intermediate_size": 25600,
            "mapping": {"world_size": tp * pp, "tp_size": tp, "pp_size": pp, "gpus_per_node": 8},
            "quantization": {
                "quant_algo": quant_algo,
                "kv_cache_quant_algo": "FP8" if quant_algo else None,
                "group_size": 16,
                "exclude_modules": ["lm_head"],
            },
        },
        "build_config": {
            "max_input_len": max_seq_len - 1,
            "max_seq_len": max_seq_len,
            "max_batch_size": max_batch_size,
            "max_beam_width": 1,
            "max_num_tokens": max_num_tokens,
            "kv_cache_type": "PAGED",
            "plugin_config": {"gemm_plugin": "nvfp4", "use_paged_context_fmha": True, "tokens_per_block": 32},
        },
    }


def make_engine(folder: Path, config: dict[str, Any] | None = None, skip_ranks: tuple[int, ...] = ()) -> Path:
    config = config or engine_config()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    mapping = config.get("pretrained_config", {}).get("mapping", {"world_size": 1})
    for rank in range(int(mapping.get("world_size", 1))):
        if rank not in skip_ranks:
            (folder / f"rank{rank}.engine").write_bytes(b"engine")
    return folder
