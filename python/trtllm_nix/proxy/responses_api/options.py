"""What a Responses request asks of one generation, as a typed value the proxy core consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChatToolChoice = Literal["auto", "none", "required"] | dict[str, Any]  # the chat API's `tool_choice` values


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """``None`` means "the server's default" (the model's generation_config, the room left in the context).

    ``thinking``: on or off when ``reasoning.effort`` was given (see ``translate.thinking_switch``; the served
    model's reasoning format writes it into the chat template's arguments).
    """

    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    extensions: dict[str, Any] = field(default_factory=dict)  # vLLM/SGLang sampling fields, by their chat names
    response_format: dict[str, Any] | None = None  # text.format in the chat API's terms
    tool_choice: ChatToolChoice = "auto"
    parallel_tool_calls: bool = True
    thinking: bool | None = None


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """The chat-path form of one Responses request: what the chat template renders, and how to generate.

    ``conversation`` is ``messages`` without the ``instructions`` system message: what a later request continuing
    with ``previous_response_id`` builds on (OpenAI does not carry ``instructions`` over)."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    options: GenerationOptions
    conversation: list[dict[str, Any]]
