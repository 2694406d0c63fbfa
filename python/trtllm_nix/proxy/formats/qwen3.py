"""Qwen3 reasoning: ``<think>…</think>`` before the answer (Qwen3's tool calls are Hermes: ``formats.hermes``).

Its chat template's ``enable_thinking`` switch closes the block in the generation prompt (``<think>\\n\\n</think>``)
when false; the template may also open it there. Qwen3 writes two newlines after ``</think>`` (a guide allows four
whitespace characters).
"""

from __future__ import annotations

from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.registry import REASONING_FORMATS


@REASONING_FORMATS.register("qwen3")
class Qwen3Reasoning(ReasoningFormat):
    OPEN, CLOSE = "<think>", "</think>"
    GAP = 4
    TEMPLATE_SWITCH = "enable_thinking"
