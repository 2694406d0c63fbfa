"""A chat-shaped request as the preparation step (``serving.conversation``) takes it, whichever API it came in: the
typed values each API's own translation makes (``protocol.ChatCompletionRequest.chat_input``,
``responses_api.translate.to_chat``, ``messages_api.translate.to_chat``), never a re-validated chat request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trtllm_nix.llm.sampling import Sampling


@dataclass(frozen=True)
class ChatInput:
    """The ``*_param`` fields name the client's own fields in errors (``text.format`` for ``response_format`` on
    /v1/responses, ``input_schema`` for a tool's ``parameters`` on /v1/messages)."""

    messages: list[dict[str, Any]]  # as the chat template expects them
    sampling: Sampling  # guided is filled in here
    stops: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # the client's chat_template_kwargs
    thinking: bool | None = None  # thinking asked on or off (None: the default), the reasoning format's switch
    structured: Mapping[str, Any] = field(default_factory=dict)  # the fields proxy.structured reads
    min_p: float | None = None
    priority: int | None = None
    n: int = 1
    top_logprobs: int = 0  # alternatives per token asked for (sent only with sampling.logprobs)
    format_param: str = "response_format"
    max_tokens_param: str = "max_tokens"
    schema_param: str = "parameters"  # a tool's schema (the Messages API's input_schema)


def structured_fields(
    response_format: dict[str, Any] | None,
    tools: list[dict[str, Any]] | None,
    tool_choice: str | dict[str, Any] | None,
    parallel_tool_calls: bool | None,
) -> dict[str, Any]:
    """The fields ``proxy.structured`` reads, in the chat API's terms, as a translated request sets them (a choice
    of tool only with tools; unset ones left out)."""
    fields: dict[str, Any] = {} if response_format is None else {"response_format": response_format}
    if tools:
        fields.update(tools=tools, tool_choice=tool_choice)
        if parallel_tool_calls is not None:
            fields["parallel_tool_calls"] = parallel_tool_calls
    return fields
