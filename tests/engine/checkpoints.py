"""Tiny ModelOpt-format checkpoints: Qwen3-shaped, with the tensor layouts NVIDIA's NVFP4 and FP8 releases use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import save_file

TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 128,
    "vocab_size": 256,
}
PROJECTIONS = {
    "self_attn.q_proj": (64, 64),
    "self_attn.k_proj": (32, 64),
    "self_attn.v_proj": (32, 64),
    "self_attn.o_proj": (64, 64),
    "mlp.gate_proj": (128, 64),
    "mlp.up_proj": (128, 64),
    "mlp.down_proj": (64, 128),
}
Quant = Literal["NVFP4", "FP8", "BF16"]
Shape = Literal["legacy", "inline", "flat"]


def _tensors(quant: Quant) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out: dict[str, torch.Tensor] = {
        "model.embed_tokens.weight": torch.randn(256, 64, generator=g).to(torch.bfloat16),
        "lm_head.weight": torch.randn(256, 64, generator=g).to(torch.bfloat16),
        "model.norm.weight": torch.ones(64, dtype=torch.bfloat16),
    }
    for layer in range(TINY["num_hidden_layers"]):
        for name, (rows, cols) in PROJECTIONS.items():
            prefix = f"model.layers.{layer}.{name}"
            if quant == "NVFP4":
                out[f"{prefix}.weight"] = torch.randint(0, 256, (rows, cols // 2), dtype=torch.uint8, generator=g)
                out[f"{prefix}.weight_scale"] = torch.rand(rows, cols // 16, generator=g).to(torch.float8_e4m3fn)
                out[f"{prefix}.weight_scale_2"] = torch.tensor(0.01, dtype=torch.float32)
                out[f"{prefix}.input_scale"] = torch.tensor(0.02, dtype=torch.float32)
            elif quant == "FP8":
                out[f"{prefix}.weight"] = torch.randn(rows, cols, generator=g).to(torch.float8_e4m3fn)
                out[f"{prefix}.weight_scale"] = torch.tensor(0.01, dtype=torch.float32)
                out[f"{prefix}.input_scale"] = torch.tensor(0.02, dtype=torch.float32)
            else:
                out[f"{prefix}.weight"] = torch.randn(rows, cols, generator=g).to(torch.bfloat16)
        out[f"model.layers.{layer}.input_layernorm.weight"] = torch.ones(64, dtype=torch.bfloat16)
    return out


def make_checkpoint(
    folder: Path,
    quant: Quant = "NVFP4",
    shape: Shape = "legacy",
    tokenizer: Path | None = None,
    metadata_quant: str | None = None,
) -> Path:
    """Write config.json, model.safetensors, the quantization metadata in ``shape``, and tokenizer files."""
    folder.mkdir(parents=True, exist_ok=True)
    said = metadata_quant or quant
    config: dict[str, object] = {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "torch_dtype": "bfloat16",
        "tie_word_embeddings": False,
        **TINY,
    }
    group = {"num_bits": 4 if said == "NVFP4" else 8, "type": "float", "group_size": 16 if said == "NVFP4" else None}
    flat = {
        "quant_algo": said,
        "kv_cache_scheme": {"dynamic": False, "num_bits": 8, "type": "float"},
        "ignore": ["lm_head"],
        "producer": {"name": "modelopt", "version": "1.0.0"},
        "config_groups": {"group_0": {"weights": group, "input_activations": group, "targets": ["Linear"]}},
    }
    if quant != "BF16" or metadata_quant:
        if shape == "legacy":
            legacy = {
                "producer": {"name": "modelopt", "version": "0.29.0"},
                "quantization": {
                    "quant_algo": said,
                    "kv_cache_quant_algo": "FP8",
                    "exclude_modules": ["lm_head"],
                    **({"group_size": 16} if said == "NVFP4" else {}),
                },
            }
            (folder / "hf_quant_config.json").write_text(json.dumps(legacy))
        elif shape == "flat":
            (folder / "hf_quant_config.json").write_text(json.dumps(flat))
        else:
            config["quantization_config"] = {**flat, "quant_method": "modelopt"}
    (folder / "config.json").write_text(json.dumps(config))
    save_file(_tensors(quant), str(folder / "model.safetensors"))
    if tokenizer is not None:
        for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
            shutil.copyfile(tokenizer / name, folder / name)
    return folder
