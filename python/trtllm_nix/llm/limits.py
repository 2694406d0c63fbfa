"""The context length of the engine actually served, and the one the proxy may promise.

The engine's ``max_seq_len`` (prompt + output) is recorded in the model repository's ``manifest.json`` by
``trtllm-nix repo generate``; the tokenizer's ``model_max_length`` is the model family's limit (Qwen3: 131072,
while the catalog's engines are built for 16-32k), so it only matters when nothing better is known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import UserError

MANIFEST = "manifest.json"  # the name repo.generate writes


@dataclass(frozen=True)
class EngineLimits:
    max_seq_len: int
    max_input_len: int


def read_engine_limits(repository: Path) -> EngineLimits:
    path = repository / MANIFEST
    try:
        manifest = json.loads(path.read_text("utf-8"))
        engine = manifest["engine"]
        # "limits": what the engine actually built can run (without chunked context a prompt must fit
        # max_num_tokens); older manifests have only the engine's own max_input_len.
        limits = manifest.get("limits") or engine
        return EngineLimits(int(engine["max_seq_len"]), int(limits.get("max_input_len") or engine["max_seq_len"]))
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}; generate it with `trtllm-nix repo generate`") from error
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} does not record the engine's max_seq_len; regenerate the repository") from error


def gathered_logits(repository: Path) -> tuple[bool, bool]:
    """Whether the served engine was built with ``--gather_context_logits`` and ``--gather_generation_logits``, as
    its repository's manifest records (absent from older manifests: off)."""
    try:
        engine = json.loads((repository / MANIFEST).read_text("utf-8")).get("engine") or {}
    except (OSError, ValueError, AttributeError):
        return False, False
    return bool(engine.get("gather_context_logits")), bool(engine.get("gather_generation_logits"))


def guided_decoding_enabled(repository: Path) -> bool:
    """Whether the served ``tensorrt_llm`` model does guided decoding: its config's ``guided_decoding_backend``
    parameter is ``xgrammar`` (the only value TensorRT-LLM's backend accepts; empty or absent means off)."""
    path = repository / "tensorrt_llm" / "config.pbtxt"
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}; generate it with `trtllm-nix repo generate`") from error
    found = re.search(r'key:\s*"guided_decoding_backend"\s*value:?\s*\{\s*string_value:\s*"([^"]*)"', text)
    return found is not None and found.group(1) == "xgrammar"


def context_length(requested: int | None, engine: EngineLimits | None, tokenizer: int) -> int:
    """``--max-model-len`` if given (refused when the engine cannot hold it), else the engine's, else the
    tokenizer's."""
    if engine is None:
        return requested or tokenizer
    if requested is not None and requested > engine.max_seq_len:
        raise UserError(
            f"--max-model-len {requested} is more than the served engine's max_seq_len {engine.max_seq_len}; "
            "pass at most that, or serve an engine built for more"
        )
    return requested or engine.max_seq_len
