"""``OutputEvent`` values -> the Responses API's output: the final ``Response`` object and its SSE event grammar.

One assembler serves both: ``render_response`` runs it and keeps the final object, ``StreamRenderer`` sends its
events, so a streamed answer ends with exactly the object a non-streamed one returns.

Output items, in the order the model produced them: consecutive ``ReasoningText`` form one ``reasoning`` item (the
text in ``content`` as ``reasoning_text``; also in ``summary`` as ``summary_text`` when the request asked for a
summary: this server has no summarizer, so the summary is the reasoning itself); consecutive ``ContentText`` form one
``message`` with one ``output_text`` part; each ``ToolCall`` is one ``function_call`` item. Event grammar as OpenAI's
and vLLM's (docs/responses-api.md lists the events); ``response.incomplete`` when ``max_output_tokens`` cut the
answer, as OpenAI does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, ToolCall
from trtllm_nix.proxy.responses_api.protocol import FunctionTool, HostedTool, NamespaceTool, ResponsesRequest


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """Who this response is: its id (``resp_...``), creation time, the served model name and the request whose
    settings it echoes."""

    id: str
    model: str
    request: ResponsesRequest
    created_at: int = field(default_factory=lambda: int(time.time()))

    def item_id(self, prefix: str, index: int) -> str:
        return f"{prefix}_{self.id.removeprefix('resp_')}{index:03d}"


def new_meta(model: str, request: ResponsesRequest) -> ResponseMeta:
    """A fresh identity for one response to ``request``, served as ``model``."""
    return ResponseMeta(f"resp_{uuid.uuid4().hex}", model, request)


def response_object(
    meta: ResponseMeta,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    incomplete: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request = meta.request
    text = request.text.model_dump(by_alias=True, exclude_none=True) if request.text else {}
    text.setdefault("format", {"type": "text"})
    reasoning = request.reasoning.model_dump(exclude_none=True) if request.reasoning else {}
    return {
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": request.store,
        "temperature": request.temperature,
        "text": text,
        "tool_choice": request.tool_choice
        if isinstance(request.tool_choice, str)
        else request.tool_choice.model_dump(),
        "tools": [echoed_tool(tool) for tool in request.tools],
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": usage,
        "user": request.user,
        "metadata": request.metadata or {},
        "service_tier": "default",
        "background": False,
    }


def echoed_tool(tool: FunctionTool | NamespaceTool | HostedTool) -> dict[str, Any]:
    """A request's tool as the response's ``tools`` lists it (a function's ``strict`` always present)."""
    if isinstance(tool, FunctionTool):
        return tool.model_dump(exclude_none=True) | {"strict": tool.strict}
    if isinstance(tool, NamespaceTool):
        return tool.model_dump(exclude_none=True) | {"tools": [echoed_tool(member) for member in tool.tools]}
    return tool.model_dump()


def usage_object(finish: Finish, reasoning_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": finish.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": finish.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }


class _Assembler:
    """Turns output events into Responses stream events (dicts without ``sequence_number``) and the output list."""

    def __init__(self, meta: ResponseMeta) -> None:
        self.meta = meta
        self.summary = meta.request.wants_summary()
        self.output: list[dict[str, Any]] = []
        self.open: str | None = None  # "reasoning" or "message" while such an item collects text
        self.text = ""
        self.reasoning_tokens = 0
        self.finished: dict[str, Any] | None = None
        self.functions = {  # the model's name for a function -> (namespace, the function's own name)
            qualified_name: (namespace, tool.name)
            for qualified_name, (namespace, tool) in meta.request.functions().items()
        }

    @property
    def index(self) -> int:
        return len(self.output)

    def feed(self, event: OutputEvent) -> list[dict[str, Any]]:
        if self.finished is not None:
            raise ValueError("an output event after Finish")
        if isinstance(event, ReasoningText):
            self.reasoning_tokens += len(event.tokens.ids)
            return self._text("reasoning", event.text)
        if isinstance(event, ContentText):
            return self._text("message", event.text)
        if isinstance(event, ToolCall):
            if not self.meta.request.parallel_tool_calls and self._called():
                return []  # parallel_tool_calls false: calls after the first are dropped (as on the chat route)
            return [*self._close("completed"), *self._tool_call(event)]
        return self._finish(event)

    # -- items that collect text ---------------------------------------------------------------------------------

    def _channels(self) -> list[tuple[str, str, str]]:
        """The open item's text parts, each with its own events: (the text events' name, the part events' name, the
        index's name). A reasoning summary is a second part with the same text."""
        if self.open == "message":
            return [("output_text", "content_part", "content_index")]
        summary = [("reasoning_summary_text", "reasoning_summary_part", "summary_index")] if self.summary else []
        return [("reasoning_text", "content_part", "content_index"), *summary]

    def _text(self, kind: str, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not text and self.open != kind and self._called():
            return events  # tokens without text after a call (cut markup the parser dropped): no empty message
        if self.open != kind:
            events.extend(self._close("completed"))
            events.extend(self._open(kind))
        if not text:
            return events
        self.text += text
        where = self._where()
        for name, _, index in self._channels():
            events.append({"type": f"response.{name}.delta", **where, index: 0, "delta": text, **_logprobs(name)})
        return events

    def _where(self) -> dict[str, Any]:
        prefix = "msg" if self.open == "message" else "rs"
        return {"item_id": self.meta.item_id(prefix, self.index), "output_index": self.index}

    def _item(self, status: str, text: str | None = None) -> dict[str, Any]:
        """The open item, in progress (no ``text`` yet: no parts) or done."""
        item: dict[str, Any] = {"id": self._where()["item_id"], "type": self.open}
        parts = [] if text is None else [_part(name, text) for name, _, _ in self._channels()]
        if self.open == "message":
            return {**item, "role": "assistant", "status": status, "content": parts}
        item |= {"status": status, "summary": parts[1:]}
        return item if text is None else {**item, "content": parts[:1]}

    def _open(self, kind: str) -> list[dict[str, Any]]:
        self.open, self.text = kind, ""
        where = self._where()
        events = [{"type": "response.output_item.added", "output_index": self.index, "item": self._item("in_progress")}]
        for name, part_events, index in self._channels():
            events.append({"type": f"response.{part_events}.added", **where, index: 0, "part": _part(name, "")})
        return events

    def _close(self, status: str) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        where, text, events = self._where(), self.text, []
        for name, part_events, index in self._channels():
            events.append({"type": f"response.{name}.done", **where, index: 0, "text": text, **_logprobs(name)})
            events.append({"type": f"response.{part_events}.done", **where, index: 0, "part": _part(name, text)})
        item = self._item(status, text)
        events.append({"type": "response.output_item.done", "output_index": self.index, "item": item})
        self.output.append(item)
        self.open, self.text = None, ""
        return events

    def _called(self) -> bool:
        return any(item["type"] == "function_call" for item in self.output)

    # -- items complete at once ----------------------------------------------------------------------------------

    def _tool_call(self, call: ToolCall) -> list[dict[str, Any]]:
        item_id = self.meta.item_id("fc", self.index)
        namespace, name = self.functions.get(call.name, (None, call.name))
        added = {"id": item_id, "type": "function_call", "status": "in_progress", "call_id": call.call_id,
                 "name": name, "arguments": ""}  # fmt: skip
        if namespace is not None:
            added["namespace"] = namespace
        done = {**added, "status": "completed", "arguments": call.arguments}
        where = {"item_id": item_id, "output_index": self.index}
        events = [
            {"type": "response.output_item.added", "output_index": self.index, "item": added},
            {"type": "response.function_call_arguments.delta", **where, "delta": call.arguments},
            {"type": "response.function_call_arguments.done", **where, "name": name, "arguments": call.arguments},
            {"type": "response.output_item.done", "output_index": self.index, "item": done},
        ]  # fmt: skip
        self.output.append(done)
        return events

    def _finish(self, finish: Finish) -> list[dict[str, Any]]:
        status = "incomplete" if finish.reason == "length" else "completed"
        events = self._close(status)
        usage = usage_object(finish, self.reasoning_tokens)
        reason = "max_output_tokens" if status == "incomplete" else None
        self.finished = response_object(self.meta, status, list(self.output), usage, incomplete=reason)
        events.append({"type": f"response.{status}", "response": self.finished})
        return events

    def fail(self, message: str, code: str) -> list[dict[str, Any]]:
        if self.finished is not None:
            raise ValueError("the response has already ended")
        events = self._close("incomplete")
        error = {"code": code, "message": message}
        self.finished = response_object(self.meta, "failed", list(self.output), error=error)
        events.append({"type": "response.failed", "response": self.finished})
        return events


def _part(name: str, text: str) -> dict[str, Any]:
    """The part that the text events ``name`` fill."""
    if name == "output_text":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "summary_text" if name == "reasoning_summary_text" else name, "text": text}


def _logprobs(name: str) -> dict[str, Any]:
    return {"logprobs": []} if name == "output_text" else {}


def render_response(events: Iterable[OutputEvent], meta: ResponseMeta) -> dict[str, Any]:
    """The ``Response`` object of a finished generation (``events`` ends with ``Finish``)."""
    assembler = _Assembler(meta)
    for event in events:
        assembler.feed(event)
    if assembler.finished is None:
        raise ValueError("the output events end without Finish")
    return assembler.finished


def sse(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


class StreamRenderer:
    """The SSE bytes of one streamed response: ``start()`` once, ``feed()`` per output event (the ``Finish`` event
    sends ``response.completed``/``response.incomplete``), or ``fail()`` when the generation breaks off. ``final``
    is the finished ``Response`` object (what the store keeps), once there is one."""

    def __init__(self, meta: ResponseMeta) -> None:
        self._assembler = _Assembler(meta)
        self._meta = meta
        self._sequence = 0

    @property
    def final(self) -> dict[str, Any] | None:
        return self._assembler.finished

    def start(self) -> bytes:
        created = response_object(self._meta, "in_progress", [])
        return self._encode(
            [
                {"type": "response.created", "response": created},
                {"type": "response.in_progress", "response": created},
            ]
        )

    def feed(self, event: OutputEvent) -> bytes:
        return self._encode(self._assembler.feed(event))

    def fail(self, message: str, code: str = "server_error") -> bytes:
        """``code`` is one of OpenAI's ``ResponseError`` codes (``server_error``, ``rate_limit_exceeded``, ...)."""
        return self._encode(self._assembler.fail(message, code))

    def _encode(self, events: list[dict[str, Any]]) -> bytes:
        first, self._sequence = self._sequence, self._sequence + len(events)
        return b"".join(sse({**event, "sequence_number": first + n}) for n, event in enumerate(events))
