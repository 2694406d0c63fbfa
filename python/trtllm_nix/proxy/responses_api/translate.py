"""A Responses request (and the stored turns it continues) in the chat path's terms: a ``ChatInput`` of OpenAI chat
messages as the model's chat template renders them, chat ``tools`` entries and the sampling asked for."""

from __future__ import annotations

from typing import Any, Literal

from trtllm_nix.llm.sampling import Sampling
from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.chat_input import ChatInput, structured_fields
from trtllm_nix.proxy.responses_api.protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    InputItem,
    ItemReference,
    MessageItem,
    NamespaceTool,
    ReasoningEffort,
    ReasoningItem,
    ResponsesRequest,
    TextConfig,
    TextFormatJsonObject,
    TextFormatJsonSchema,
)

ChatToolChoice = Literal["auto", "none", "required"] | dict[str, Any]  # the chat API's `tool_choice` values


def conversation_of(request: ResponsesRequest, previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The chat messages a later request continuing this one builds on: ``previous`` (the stored ``conversation`` of
    the response ``previous_response_id`` names; the caller answers 404 for an unknown id), then ``input``. Not
    ``instructions``: OpenAI does not carry them over."""
    conversation = [*(previous or []), *input_messages(request.input)]
    if not conversation:
        raise bad_request("input is empty: send a string or at least one item", param="input")
    return conversation


def to_chat(request: ResponsesRequest, conversation: list[dict[str, Any]]) -> ChatInput:
    """What ``request`` asks of the chat path's preparation step, ``instructions`` first: errors name
    ``text.format`` and ``max_output_tokens``, the client's own fields. ``reasoning.effort`` is the thinking switch
    (``thinking_switch``)."""
    system = [{"role": "system", "content": request.instructions}] if request.instructions else []
    tools = chat_tools(request) or None
    choice, parallel = chat_tool_choice(request), request.parallel_tool_calls
    sampling = Sampling(
        max_tokens=request.max_output_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        seed=request.seed,
        repetition_penalty=request.repetition_penalty,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
    )
    return ChatInput(
        messages=[*system, *conversation],
        sampling=sampling,
        tools=tools,
        tool_choice=choice if tools else None,
        parallel_tool_calls=parallel if tools else None,
        thinking=thinking_switch(request.reasoning.effort if request.reasoning else None),
        structured=structured_fields(response_format(request.text), tools, choice, parallel),
        min_p=request.min_p,
        priority=request.priority,
        format_param="text.format",
        max_tokens_param="max_output_tokens",
    )


def input_messages(items: str | list[InputItem]) -> list[dict[str, Any]]:
    """Items in order as chat messages. An assistant turn collects what the Responses API splits into items: a
    ``reasoning`` item, the assistant ``message`` and the ``function_call`` items that follow it."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}] if items else []
    messages: list[dict[str, Any]] = []
    turn: dict[str, Any] | None = None  # the assistant turn being collected

    def assistant(new: bool = False) -> dict[str, Any]:
        nonlocal turn
        if turn is None or new:
            turn = {"role": "assistant", "content": ""}
            messages.append(turn)
        return turn

    for item in items:
        if isinstance(item, ItemReference):
            raise TypeError("an item_reference reached translation unresolved (store.resolve_references)")
        if isinstance(item, ReasoningItem):  # after text or calls, reasoning opens the next assistant turn
            current = assistant(new=turn is not None and bool(turn["content"] or "tool_calls" in turn))
            current["reasoning_content"] = current.get("reasoning_content", "") + item.text()
        elif isinstance(item, MessageItem) and item.role == "assistant":  # text after calls opens a new turn
            assistant(new=turn is not None and "tool_calls" in turn)["content"] += item.text()
        elif isinstance(item, FunctionCallItem):
            call = chat_call(item.call_id, item.qualified_name(), item.arguments)
            assistant().setdefault("tool_calls", []).append(call)
        elif isinstance(item, FunctionCallOutputItem):
            turn = None
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.text()})
        else:
            turn = None
            role = "system" if item.role == "developer" else item.role
            messages.append({"role": role, "content": item.text()})
    return messages


def chat_tools(request: ResponsesRequest) -> list[dict[str, Any]]:
    """The offered functions as chat ``tools`` entries; a namespace's description opens each of its functions'."""
    namespaces = {tool.name: tool.description for tool in request.tools if isinstance(tool, NamespaceTool)}
    return [
        chat_tool(
            name,
            "\n\n".join(text for text in (namespaces[namespace] if namespace else None, tool.description) if text),
            tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}},
            tool.strict,
        )
        for name, (namespace, tool) in request.functions().items()
    ]


def chat_tool(name: str, description: str | None, parameters: dict[str, Any], strict: bool | None) -> dict[str, Any]:
    """One chat ``tools`` entry (also the Messages API's, ``messages_api.translate``)."""
    function: dict[str, Any] = {"name": name}
    if description:
        function["description"] = description
    function["parameters"] = parameters
    if strict is not None:
        function["strict"] = strict
    return {"type": "function", "function": function}


def chat_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One entry of an assistant message's chat ``tool_calls``."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_tool_choice(request: ResponsesRequest) -> ChatToolChoice:
    choice = request.tool_choice
    if isinstance(choice, FunctionChoice):
        if choice.name not in request.functions():
            raise bad_request(f"tool_choice names {choice.name!r}, which is not in tools", param="tool_choice")
        return {"type": "function", "function": {"name": choice.name}}
    if choice == "required" and not request.functions():
        raise bad_request(
            "tool_choice 'required' needs function tools (hosted tools are not offered)", param="tool_choice"
        )
    return choice


def thinking_switch(effort: ReasoningEffort | None) -> bool | None:
    """Thinking is a switch (the served model's reasoning format writes it into the chat template's arguments), not
    a budget: ``none`` and ``minimal`` turn thinking off, ``low``/``medium``/``high``/``xhigh`` turn it on (all
    think as long as the model wants; cap it with ``max_output_tokens``), and no effort keeps the server's
    default."""
    if effort is None:
        return None
    return effort not in ("none", "minimal")


def response_format(text: TextConfig | None) -> dict[str, Any] | None:
    """``text.format`` as the chat API's ``response_format``, so the chat path's structured-output machinery
    (``proxy.structured``) turns it into the guide: ``json_schema`` with its INNER ``schema`` (never the OpenAI
    wrapper, trtllm-serve's mistake: NVIDIA/TensorRT#4855), ``json_object`` as JSON, ``text`` as nothing."""
    fmt = text.format if text else None
    if isinstance(fmt, TextFormatJsonSchema):
        inner: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
        if fmt.strict is not None:
            inner["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": inner}
    if isinstance(fmt, TextFormatJsonObject):
        return {"type": "json_object"}
    return None
