"""Qwen3 reasoning: ``<think>…</think>`` before the answer (Qwen3's tool calls are Hermes: ``formats.hermes``).

Its chat template's ``enable_thinking`` switch (``template_kwargs``: what the Responses API's ``reasoning.effort``
and the Messages API's ``thinking`` ask for) closes the block in the generation prompt (``<think>\\n\\n</think>``)
when false (``closed_by``: the answer comes directly, a guide has no think prefix); a template may also open it there
(``opened_by``). Qwen3 writes two newlines after ``</think>`` (a guide allows four whitespace characters).
"""

from __future__ import annotations

from typing import Any

from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.registry import REASONING_FORMATS


@REASONING_FORMATS.register("qwen3")
class Qwen3Reasoning(ReasoningFormat):
    OPEN, CLOSE = "<think>", "</think>"
    GAP = 4

    def template_kwargs(self, thinking: bool | None) -> dict[str, Any]:
        return {} if thinking is None else {"enable_thinking": thinking}
