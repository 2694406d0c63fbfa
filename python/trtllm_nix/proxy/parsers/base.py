"""Output parsers turn a generation (``Delta`` ... ``Finish``) into output events (``OutputEvent``).

A text parser (reasoning and tool-call markup) sees text only. ``SpanParser`` wraps it and gives every event the
tokens it came from: the tokens of a delta wait until the parser releases text, and ride on the first event it
releases, so every generated token reaches exactly one event, in order (streamed logprobs lose nothing, whatever
the parser holds back). Tokens still waiting at the end ride on the first event released then, or on an empty
content event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Protocol

from trtllm_nix.llm.events import Delta, Finish, GenerationEvent, TopLogprob
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, Tokens, ToolCall

TextEvent = ReasoningText | ContentText | ToolCall


class TextParser(Protocol):
    def feed(self, text: str) -> list[TextEvent]: ...

    def finish(self) -> list[TextEvent]: ...


class ContentOnly:
    """Everything the model says is content."""

    def feed(self, text: str) -> list[TextEvent]:
        return [ContentText(text)] if text else []

    def finish(self) -> list[TextEvent]:
        return []


class _PendingTokens:
    def __init__(self) -> None:
        self.ids: list[int] = []
        self.logprobs: list[float] | None = []
        self.top: list[tuple[TopLogprob, ...]] | None = []

    def add(self, delta: Delta) -> None:
        self.ids.extend(delta.token_ids)
        if not delta.token_ids:
            return
        if delta.logprobs is None or self.logprobs is None:
            self.logprobs = None
        else:
            self.logprobs.extend(delta.logprobs)
        if delta.top_logprobs is None or self.top is None:
            self.top = None
        else:
            self.top.extend(delta.top_logprobs)

    def take(self) -> Tokens:
        tokens = Tokens(
            tuple(self.ids),
            tuple(self.logprobs) if self.logprobs is not None and self.ids else None,
            tuple(self.top) if self.top is not None and self.ids else None,
        )
        self.ids, self.logprobs, self.top = [], [], []
        return tokens


class SpanParser:
    def __init__(self, text_parser: TextParser) -> None:
        self._parser = text_parser
        self._pending = _PendingTokens()

    def feed(self, delta: Delta) -> list[OutputEvent]:
        self._pending.add(delta)
        return self._attach(self._parser.feed(delta.text) if delta.text else [], final=False)

    def finish(self, finish: Finish) -> list[OutputEvent]:
        out = self._attach(self._parser.finish(), final=True)
        return [*out, finish]

    def _attach(self, events: list[TextEvent], final: bool) -> list[OutputEvent]:
        if not self._pending.ids:
            return list(events)
        if not events:
            return [ContentText("", self._pending.take())] if final else []
        out: list[OutputEvent] = list(events)
        out[0] = dataclasses.replace(events[0], tokens=self._pending.take())
        return out


async def parse(events: AsyncIterator[GenerationEvent], parser: SpanParser) -> AsyncIterator[OutputEvent]:
    """The output events of a generation; closing this iterator closes the generation (and cancels it)."""
    try:
        async for event in events:
            for out in parser.finish(event) if isinstance(event, Finish) else parser.feed(event):
                yield out
    finally:
        await events.aclose()  # type: ignore[attr-defined]
