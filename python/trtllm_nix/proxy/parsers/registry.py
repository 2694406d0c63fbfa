"""The output parsers by name, in two registries chosen independently (as vLLM's ``--reasoning-parser`` and
``--tool-call-parser``): a reasoning parser splits the model's thinking from its answer, a tool-call parser turns
call markup into ``tool_calls``. Each entry names the markup it reads; ``parsers.qwen3.Qwen3OutputParser`` reads
both kinds, with either switched off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtllm_nix.proxy.parsers.qwen3 import CALL_CLOSE, CALL_OPEN, THINK_CLOSE, THINK_OPEN

if TYPE_CHECKING:  # the CLI's argument set-up reads the names without loading tokenizer code
    from trtllm_nix.llm.model_files import ModelFiles

REASONING_PARSERS: dict[str, tuple[str, str]] = {"qwen3": (THINK_OPEN, THINK_CLOSE)}
TOOL_PARSERS: dict[str, tuple[str, str]] = {"hermes": (CALL_OPEN, CALL_CLOSE)}


def choices(registry: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    return ("auto", *registry, "none")


def reasoning_parser(choice: str, files: ModelFiles) -> str | None:
    """The reasoning parser to run, or None. ``auto``: the first whose tags are the tokenizer's special tokens."""
    if choice == "auto":
        return next((name for name, tags in REASONING_PARSERS.items() if set(tags) <= files.special_ids.keys()), None)
    return None if choice == "none" else choice


def tool_parser(choice: str) -> str | None:
    """The tool-call parser to run, or None. ``auto``: Hermes markup (read as text, so any tokenizer can emit it)."""
    if choice == "auto":
        return "hermes"
    return None if choice == "none" else choice
