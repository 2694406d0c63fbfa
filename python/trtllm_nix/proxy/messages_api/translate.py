"""A Messages request in the chat path's terms: the body of a chat completion request (OpenAI chat messages as the
model's chat template renders them, chat ``tools``, ``tool_choice``, ``chat_template_kwargs``), so the chat path's
checks, template, guided decoding and output parsers apply as they are.

- ``system`` (a string or text blocks) is the first system message; a ``role: "system"`` turn inside ``messages``
  stays a system message where it is (Qwen3's template renders it in place).
- An assistant turn: its ``thinking`` blocks (signature checked, ``signing``) become ``reasoning_content``, its text
  blocks ``content``, its ``tool_use`` blocks ``tool_calls`` (``input`` as the arguments' JSON).
- A user turn: each ``tool_result`` becomes a ``tool`` message (``is_error``: its text after ``Error: ``), text
  blocks between them user messages, in order.
- ``tool_choice``: ``auto`` -> ``auto``, ``any`` -> ``required``, ``tool`` -> the named function (both forced by
  the chat path's guided decoding: a 400 on a model without it), ``none`` -> ``none``;
  ``disable_parallel_tool_use`` -> ``parallel_tool_calls: false``.
- ``thinking``: ``enabled`` and ``adaptive`` -> ``enable_thinking: true``, ``disabled`` -> false, absent -> the
  server's default (Qwen3's template thinks unless told not to).
"""

from __future__ import annotations

import json
from typing import Any

from trtllm_nix.proxy.api_errors import APIError, bad_request
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


def chat_body(request: Conversation, signer: ThinkingSigner) -> dict[str, Any]:
    """The chat completion request body that ``request`` stands for (``max_tokens`` left to the caller, which
    clamps it to the room the prompt leaves)."""
    system = request.system_text()
    messages = [{"role": "system", "content": system}] if system else []
    for index, message in enumerate(request.messages):
        messages.extend(chat_messages(message, index, signer))
    tools = [chat_tool(tool.name, tool.description, tool.input_schema, tool.strict) for tool in request.tools]
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if tools:
        body["tools"] = tools
        body["tool_choice"], parallel = tool_choice(request, {tool.name for tool in request.tools})
        if parallel is False:
            body["parallel_tool_calls"] = False
    elif request.tool_choice is not None and not isinstance(request.tool_choice, ToolChoiceNone):
        raise bad_request(f"tool_choice {request.tool_choice.type!r} needs tools", param="tool_choice")
    if request.thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": not isinstance(request.thinking, ThinkingDisabled)}
    schema = request.output_schema()
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    if isinstance(request, MessagesRequest):
        body.update(
            {
                "stream": request.stream,
                "stop": request.stop_sequences or None,
                "temperature": request.temperature,
                "top_p": request.top_p,
                "top_k": request.top_k,
            }
        )
    return body


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
            arguments = json.dumps(block.input, ensure_ascii=False)
            calls.append({"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}})
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


def chat_tool(name: str, description: str | None, schema: dict[str, Any], strict: bool | None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if description:
        function["description"] = description
    function["parameters"] = schema
    if strict is not None:
        function["strict"] = strict
    return {"type": "function", "function": function}


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
