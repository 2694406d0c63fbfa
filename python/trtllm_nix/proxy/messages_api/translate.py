"""A Messages request in the chat path's terms (``ChatPlan``): OpenAI chat messages as the model's chat template
renders them, chat ``tools``, ``tool_choice`` and the thinking switch, as typed values the preparation step takes
(``serving.messages`` makes them a ``ChatInput``; nothing is validated again as a chat request). Errors name the
Messages API's fields, where they are made. docs/anthropic-api.md ("Request fields") maps each field; in short: an
assistant turn is one chat message (``thinking`` blocks, their signatures checked by ``signing``, as
``reasoning_content``; text as ``content``; ``tool_use`` as ``tool_calls``), a user turn one ``tool`` message per
``tool_result`` with its text blocks between them as user messages, in order; ``tool_choice`` ``any`` is the chat
path's ``required``, ``tool`` its named function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.messages_api.protocol import (
    Conversation,
    Message,
    TextBlock,
    ThinkingBlock,
    ThinkingDisabled,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
)
from trtllm_nix.proxy.messages_api.signing import BadSignature, ThinkingSigner
from trtllm_nix.proxy.responses_api.translate import chat_call, chat_tool


@dataclass(frozen=True)
class ChatPlan:
    """What a Messages request asks of the chat path, apart from its sampling (``max_tokens`` is clamped by the
    caller to the room the prompt leaves)."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None  # False: at most one call (disable_parallel_tool_use)
    thinking: bool | None = None  # None: the server's default
    response_format: dict[str, Any] | None = None
    format_param: str = "output_config.format"  # the client's name of the output format, for errors


def to_chat(request: Conversation, signer: ThinkingSigner) -> ChatPlan:
    """The chat-path form of ``request``."""
    system = request.system_text()
    messages = [{"role": "system", "content": system}] if system else []
    for index, message in enumerate(request.messages):
        messages.extend(chat_messages(message, index, signer))
    tools = [chat_tool(tool.name, tool.description, tool.input_schema, tool.strict) for tool in request.tools]
    choice: str | dict[str, Any] | None = None
    parallel: bool | None = None
    if tools:
        choice, parallel = tool_choice(request, {tool.name for tool in request.tools})
    elif request.tool_choice is not None and not isinstance(request.tool_choice, ToolChoiceNone):
        raise bad_request(f"tool_choice {request.tool_choice.type!r} needs tools", param="tool_choice")
    thinking = None if request.thinking is None else not isinstance(request.thinking, ThinkingDisabled)
    schema = request.output_schema()
    response_format = (
        None if schema is None else {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    )
    return ChatPlan(
        messages=messages,
        tools=tools or None,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        thinking=thinking,
        response_format=response_format,
        format_param=request.output_param(),
    )


def chat_messages(message: Message, index: int, signer: ThinkingSigner) -> list[dict[str, Any]]:
    where = f"messages.{index}.content"
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        return [assistant_message(message, where, signer)]
    out: list[dict[str, Any]] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            out.append({"role": message.role, "content": "".join(text)})
            text.clear()

    for number, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ToolResultBlock) and message.role == "user":
            flush()
            out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": block.text()})
        else:
            raise bad_request(
                f"{where}.{number}: a {block.type} block belongs in an assistant turn, not a {message.role} turn"
                if not isinstance(block, ToolResultBlock)
                else f"{where}.{number}: a tool_result block belongs in a user turn",
                param=f"{where}.{number}",
            )
    flush()
    return out


def assistant_message(message: Message, where: str, signer: ThinkingSigner) -> dict[str, Any]:
    reasoning: list[str] = []
    content: list[str] = []
    calls: list[dict[str, Any]] = []
    assert not isinstance(message.content, str)
    for number, block in enumerate(message.content):
        if isinstance(block, ThinkingBlock):
            try:
                reasoning.append(signer.open(block.signature, block.thinking))
            except BadSignature as error:
                raise APIError(
                    400,
                    f"{where}.{number}: invalid signature in thinking block: {error}. Send thinking blocks back as "
                    "this server returned them; blocks from another server, or from before this server restarted "
                    "without an API key, cannot be checked: drop them",
                    param=f"{where}.{number}.signature",
                    code="invalid_value",
                ) from None
        elif isinstance(block, TextBlock):
            content.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append(chat_call(block.id, block.name, json.dumps(block.input, ensure_ascii=False)))
        else:
            raise bad_request(
                f"{where}.{number}: a tool_result block belongs in a user turn", param=f"{where}.{number}"
            )
    turn: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if reasoning:
        turn["reasoning_content"] = "\n\n".join(reasoning)
    if calls:
        turn["tool_calls"] = calls
    return turn


def tool_choice(request: Conversation, names: set[str]) -> tuple[str | dict[str, Any], bool | None]:
    """The chat ``tool_choice`` and ``parallel_tool_calls`` (None: the default) for ``request.tool_choice``."""
    choice = request.tool_choice
    if choice is None:
        return "auto", None
    if isinstance(choice, ToolChoiceNone):
        return "none", None
    parallel = False if choice.disable_parallel_tool_use else None
    if isinstance(choice, ToolChoiceTool):
        if choice.name not in names:
            raise bad_request(f"tool_choice names {choice.name!r}, which is not in tools", param="tool_choice.name")
        return {"type": "function", "function": {"name": choice.name}}, parallel
    if isinstance(choice, ToolChoiceAny):
        return "required", parallel
    return "auto", parallel
