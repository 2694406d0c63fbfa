"""Qwen/Qwen3-32B's config.json fields that the engine size model (trtllm_nix.engine.sizes) reads: tests and
scripts/gpu_report.py size its engines from them."""

from __future__ import annotations

from typing import Final

QWEN3_32B_CONFIG: Final = {
    "hidden_size": 5120,
    "num_hidden_layers": 64,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "intermediate_size": 25600,
    "vocab_size": 151936,
    "tie_word_embeddings": False,
}
