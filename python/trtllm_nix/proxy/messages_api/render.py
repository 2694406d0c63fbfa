"""``OutputEvent`` values -> Anthropic's ``Message`` object and its SSE event grammar.

One assembler serves both (``render_message`` keeps the final object, ``StreamRenderer`` sends the events), so a
streamed answer adds up to exactly the object a non-streamed one returns.

Content blocks in the order the model produced them: consecutive ``ReasoningText`` form one ``thinking`` block (its
``signature`` made by ``signing``; its text empty when the request asked ``display: "omitted"``), consecutive
``ContentText`` one ``text`` block, each ``ToolCall`` one ``tool_use`` block (``toolu_`` id, ``input`` the parsed
arguments). ``stop_reason``: ``max_tokens`` when the limit cut the answer (even after complete calls), else
``tool_use`` when a tool was called, ``stop_sequence`` (with ``stop_sequence`` set) when one of the request's ended
it, else ``end_turn``. Events: ``message_start``, ``ping``, per block ``content_block_start``, its deltas
(``thinking_delta`` and one ``signature_delta``, ``text_delta``, ``input_json_delta``) and ``content_block_stop``,
then ``message_delta`` (stop reason, output tokens) and ``message_stop``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, ToolCall
from trtllm_nix.proxy.responses_api.render import sse

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Who this message is, and what of the request its rendering needs."""

    model: str
    input_tokens: int
    signer: ThinkingSigner
    show_thinking: bool = True
    single_call: bool = False  # disable_parallel_tool_use: calls after the first are dropped
    id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")


def usage_object(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def tool_use_id(call_id: str) -> str:
    return "toolu_" + call_id.removeprefix("call_")


class _Assembler:
    def __init__(self, meta: MessageMeta) -> None:
        self.meta = meta
        self.content: list[dict[str, Any]] = []
        self.open: str | None = None  # "thinking" or "text" while such a block collects text
        self.text = ""
        self.called = False
        self.final: dict[str, Any] | None = None

    def message(self, stop_reason: str | None, stop_sequence: str | None, output_tokens: int) -> dict[str, Any]:
        return {
            "id": self.meta.id,
            "type": "message",
            "role": "assistant",
            "model": self.meta.model,
            "content": list(self.content),
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage_object(self.meta.input_tokens, output_tokens),
        }

    def feed(self, event: OutputEvent) -> list[dict[str, Any]]:
        if self.final is not None:
            raise ValueError("an output event after Finish")
        if isinstance(event, ReasoningText):
            return self._text("thinking", event.text)
        if isinstance(event, ContentText):
            return self._text("text", event.text)
        if isinstance(event, ToolCall):
            if self.meta.single_call and self.called:
                return []
            return [*self._close(), *self._tool_use(event)]
        return self._finish(event)

    def _text(self, kind: str, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        events: list[dict[str, Any]] = []
        if self.open != kind:
            events += self._close()
            self.open, self.text = kind, ""
            start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            if kind == "text":
                start = {"type": "text", "text": ""}
            events.append({"type": "content_block_start", "index": len(self.content), "content_block": start})
        self.text += text
        if kind == "text":
            delta = {"type": "text_delta", "text": text}
        elif self.meta.show_thinking:
            delta = {"type": "thinking_delta", "thinking": text}
        else:
            return events
        events.append({"type": "content_block_delta", "index": len(self.content), "delta": delta})
        return events

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        index, events = len(self.content), []
        if self.open == "text":
            self.content.append({"type": "text", "text": self.text})
        else:
            signature = self.meta.signer.sign(self.text)
            shown = self.text if self.meta.show_thinking else ""
            self.content.append({"type": "thinking", "thinking": shown, "signature": signature})
            delta = {"type": "signature_delta", "signature": signature}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
        self.open, self.text = None, ""
        return events

    def _tool_use(self, call: ToolCall) -> list[dict[str, Any]]:
        self.called = True
        index = len(self.content)
        block = {"type": "tool_use", "id": tool_use_id(call.call_id), "name": call.name, "input": {}}
        events: list[dict[str, Any]] = [{"type": "content_block_start", "index": index, "content_block": block}]
        for piece in call.argument_pieces or (call.arguments,):
            if piece:
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
        self.content.append({**block, "input": json.loads(call.arguments)})
        return events

    def _finish(self, finish: Finish) -> list[dict[str, Any]]:
        events = self._close()
        stop_sequence = None
        if finish.reason == "length":
            reason = "max_tokens"
        elif self.called:
            reason = "tool_use"
        elif finish.stop is not None:
            reason, stop_sequence = "stop_sequence", finish.stop
        else:
            reason = "end_turn"
        self.final = self.message(reason, stop_sequence, finish.completion_tokens)
        delta = {"stop_reason": reason, "stop_sequence": stop_sequence}
        usage = {"output_tokens": finish.completion_tokens}
        events.append({"type": "message_delta", "delta": delta, "usage": usage})
        events.append({"type": "message_stop"})
        return events


def render_message(events: Iterable[OutputEvent], meta: MessageMeta) -> dict[str, Any]:
    """The ``Message`` object of a finished generation (``events`` ends with ``Finish``)."""
    assembler = _Assembler(meta)
    for event in events:
        assembler.feed(event)
    if assembler.final is None:
        raise ValueError("the output events end without Finish")
    return assembler.final


class StreamRenderer:
    """The SSE bytes of one streamed message: ``start()`` once, then ``feed()`` per output event (``Finish`` sends
    ``message_delta`` and ``message_stop``)."""

    def __init__(self, meta: MessageMeta) -> None:
        self._assembler = _Assembler(meta)

    @property
    def final(self) -> dict[str, Any] | None:
        return self._assembler.final

    def start(self) -> bytes:
        start = {"type": "message_start", "message": self._assembler.message(None, None, 0)}
        return sse(start) + PING

    def feed(self, event: OutputEvent) -> bytes:
        return b"".join(sse(out) for out in self._assembler.feed(event))
