"""A tiny random-weight ``Qwen3ForCausalLM`` with the real vocabulary, saved as a Hugging Face folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Final

from trtllm_nix_testkit.assets.qwen_tokenizer import GENERATION_CONFIG

SEED: Final = 20261127
TINY_QWEN3: Final = {
    "vocab_size": 151936,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
    "initializer_range": 0.2,  # larger than default, so greedy output varies instead of repeating one token
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "bos_token_id": 151643,
}
TOKENIZER_FILES: Final = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def build_tiny_qwen3(out: Path, tokenizer_dir: Path) -> None:
    """Save the model (fp32 safetensors) with the tokenizer files beside it, as a checkpoint folder would have."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(SEED)
    model = Qwen3ForCausalLM(Qwen3Config(**TINY_QWEN3)).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    for name in TOKENIZER_FILES:
        source = tokenizer_dir / name
        if source.exists():
            shutil.copyfile(source, out / name)
    (out / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2) + "\n", "utf-8")
