"""The xgrammar tokenizer-info file TensorRT-LLM's C++ backend reads for guided decoding, written from a tokenizer.

Same content as TensorRT-LLM's ``examples/generate_xgrammar_tokenizer_info.py`` (via
``tensorrt_llm.llmapi.tokenizer._xgrammar_tokenizer_info``): a JSON object with ``encoded_vocab`` (every token,
added ones included, in id order), ``tokenizer_str`` (the fast tokenizer's serialized form) and ``stop_token_ids``
(``[eos_token_id]``). Built here from ``tokenizer.json`` and ``tokenizer_config.json`` with ``tokenizers`` alone, so
the repository generator needs no ``transformers``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trtllm_nix.errors import UserError

TOKENIZER_INFO_FILE = "xgrammar_tokenizer_info.json"


def tokenizer_info(tokenizer_dir: Path) -> dict[str, Any]:
    from tokenizers import Tokenizer

    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise UserError(f"{tokenizer_dir} has no tokenizer.json; pass the model's tokenizer folder")
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [token_id for _, token_id in by_id] != list(range(len(by_id))):
        raise UserError(f"{tokenizer_dir}/tokenizer.json: token ids are not contiguous from 0; cannot index a vocab")
    eos = _eos_token(tokenizer_dir)
    eos_id = tokenizer.token_to_id(eos)
    if eos_id is None:
        raise UserError(f"{tokenizer_dir}: eos_token {eos!r} is not in the vocabulary")
    return {
        "encoded_vocab": [token for token, _ in by_id],
        "tokenizer_str": tokenizer.to_str(),
        "stop_token_ids": [eos_id],
    }


def guided_decoding_possible(tokenizer_dir: Path) -> bool:
    """Whether a tokenizer-info file can be written for this tokenizer (``repo generate``'s default)."""
    try:
        tokenizer_info(tokenizer_dir)
    except UserError:
        return False
    return True


def tokenizer_info_text(tokenizer_dir: Path) -> str:
    return json.dumps(tokenizer_info(tokenizer_dir), ensure_ascii=False)


def _eos_token(tokenizer_dir: Path) -> str:
    path = tokenizer_dir / "tokenizer_config.json"
    try:
        eos = json.loads(path.read_text("utf-8")).get("eos_token")
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read eos_token ({error})") from error
    if isinstance(eos, dict):
        eos = eos.get("content")
    if not isinstance(eos, str) or not eos:
        raise UserError(f"{path}: no eos_token; guided decoding needs the stop token")
    return eos
