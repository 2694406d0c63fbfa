"""Load any Hugging Face causal LM folder for the reference backend, ModelOpt NVFP4 / FP8 exports included.

A plain folder goes through ``AutoModelForCausalLM``. A ModelOpt export (``quantization_config.quant_method ==
"modelopt"`` in ``config.json``) is built from its config without the quantization section, and gets the
dequantized weights (:mod:`trtllm_nix_testkit.reference.dequantize`): the reference runs in float what the GPU kernels
compute in NVFP4 / FP8, so answers match up to the quantization error, not bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trtllm_nix_testkit.reference.dequantize import dequantize_state_dict


def modelopt_quant_algo(model_dir: Path) -> str | None:
    """``NVFP4`` / ``FP8`` for a ModelOpt export, ``None`` for an unquantized folder."""
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    quantization = config.get("quantization_config") or {}
    if quantization.get("quant_method") != "modelopt":
        return None
    return str(quantization.get("quant_algo"))


def load_causal_lm(model_dir: Path, device: str) -> Any:
    """The model in float32 on ``device``, in eval mode."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    algo = modelopt_quant_algo(model_dir)
    if algo is None:
        return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).to(device).eval()
    config = AutoConfig.from_pretrained(str(model_dir))
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors: dict[str, torch.Tensor] = {}
    for shard in sorted(model_dir.glob("*.safetensors")):
        tensors.update(load_file(str(shard)))
    state = dequantize_state_dict(tensors, algo)
    if getattr(config, "tie_word_embeddings", False) and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
