"""Real ModelOpt NVFP4 / FP8 exports of a bf16 checkpoint, made on the CPU with ``nvidia-modelopt``.

Calibration runs a few fixed chat prompts through the model (greedy forward passes, no randomness), so the same
inputs give the same scales. ``export_hf_checkpoint`` writes the format NVIDIA publishes: ``hf_quant_config.json``,
``quantization_config`` (``quant_method: modelopt``) in ``config.json``, and the quantized tensors.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

CALIBRATION_PROMPTS: Final = (
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "List three primary colours.",
    "How many legs does a spider have?",
)
FORMATS: Final = ("NVFP4", "FP8")
TOKENIZER_FILES: Final = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "source.json")


def export_quantized(source: Path, out: Path, quant: str) -> None:
    """Quantize ``source`` (a bf16 folder) to ``quant`` (NVFP4 or FP8) and export it to ``out``."""
    import modelopt.torch.quantization as mtq
    import torch
    from modelopt.torch.export import export_hf_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configs = {"NVFP4": mtq.NVFP4_DEFAULT_CFG, "FP8": mtq.FP8_DEFAULT_CFG}
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.bfloat16).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    batches = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        for prompt in CALIBRATION_PROMPTS
    ]

    def calibrate(m: torch.nn.Module) -> None:
        with torch.no_grad():
            for ids in batches:
                m(input_ids=ids)

    model = mtq.quantize(model, configs[quant], forward_loop=calibrate)
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        export_hf_checkpoint(model, export_dir=str(out))
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copyfile(source / name, out / name)
