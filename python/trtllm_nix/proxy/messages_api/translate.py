"""A Messages request in the chat path's terms: a ``ChatInput`` of OpenAI chat messages as the model's chat template
renders them, chat ``tools``, ``tool_choice``, the thinking switch and the sampling asked for (nothing is validated
again as a chat request). Errors name the Messages API's fields, where they are made. docs/anthropic-api.md
("Request fields") maps each field; in short: an assistant turn is one chat message (``thinking`` blocks, their
signatures checked by ``signing``, as ``reasoning_content``; text as ``content``; ``tool_use`` as ``tool_calls``), a
user turn one ``tool`` message per ``tool_result`` with its text blocks between them as user messages, in order;
``tool_choice`` ``any`` is the chat path's ``required``, ``tool`` its named function.
"""

from __future__ import annotations

import json
from typing import Any

from trtllm_nix.llm.sampling import Sampling
from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.chat_input import ChatInput, structured_fields
from trtllm_nix.proxy.messages_api.protocol import (
    Conversation,
    Message,
    MessagesRequest,
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


def to_chat(request: Conversation, signer: ThinkingSigner) -> ChatInput:
    """What ``request`` asks of the chat path's preparation step: no ``max_tokens`` (all the room the prompt
    leaves; the caller clamps it), errors name the output format and a tool's ``input_schema`` as the client sent
    them. A count_tokens request has no sampling."""
    system = request.system_text()
    messages = [{"role": "system", "content": system}] if system else []
    for index, message in enumerate(request.messages):
        messages.extend(chat_messages(message, index, signer))
    tools = [chat_tool(tool.name, tool.description, tool.input_schema, tool.strict) for tool in request.tools] or None
    choice: str | dict[str, Any] | None = None
    parallel: bool | None = None  # False: at most one call (disable_parallel_tool_use)
    if tools:
        choice, parallel = tool_choice(request, {tool.name for tool in request.tools})
    elif request.tool_choice is not None and not isinstance(request.tool_choice, ToolChoiceNone):
        raise bad_request(f"tool_choice {request.tool_choice.type!r} needs tools", param="tool_choice")
    schema = request.output_schema()
    response_format = (
        None if schema is None else {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    )
    sampling, stops = Sampling(), []
    if isinstance(request, MessagesRequest):
        sampling = Sampling(temperature=request.temperature, top_p=request.top_p, top_k=request.top_k)
        stops = list(request.stop_sequences or [])
    return ChatInput(
        messages=messages,
        sampling=sampling,
        stops=stops,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        thinking=None if request.thinking is None else not isinstance(request.thinking, ThinkingDisabled),
        structured=structured_fields(response_format, tools, choice, parallel),
        format_param=request.output_param(),
        schema_param="input_schema",
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
