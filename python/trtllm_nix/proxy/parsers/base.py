"""Output parsers turn a generation (``Delta`` ... ``Finish``) into output events (``OutputEvent``).

A text parser (reasoning and tool-call markup) sees text only, which may arrive split anywhere, even inside a tag
(the formats' parsers share ``TagSplitter``). ``SpanParser`` wraps it and gives every event the tokens it came from:
the tokens of a delta wait until the parser releases text, and ride on the first event it releases, so every
generated token reaches exactly one event, in order (streamed logprobs lose nothing, whatever the parser holds back).
Tokens still waiting at the end ride on the first event released then, or on an empty content event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from trtllm_nix.llm.events import Delta, Finish, GenerationEvent, TopLogprob
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, Tokens, ToolCall

TextEvent = ReasoningText | ContentText | ToolCall


class TextParser(Protocol):
    def feed(self, text: str) -> list[TextEvent]: ...

    def finish(self) -> list[TextEvent]: ...


def held_prefix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of one of ``tags``."""
    if not tags:
        return 0
    for size in range(min(len(text), max(len(t) for t in tags) - 1), 0, -1):
        if any(tag.startswith(text[-size:]) for tag in tags):
            return size
    return 0


class TagSplitter:
    """A parser of tagged sections: text is buffered, and the current step (a method, ``final`` at the end) runs
    until it neither consumes text nor changes the step; a step holds back only what could still become a tag, so
    any split of the same text gives the same merged message."""

    def __init__(self, step: Callable[[bool], list[TextEvent]], at_start: bool) -> None:
        self._step = step
        self._buffer = ""
        # leading whitespace of a section (the reasoning, the answer after it, the text after a call) is layout
        self._at_start = at_start

    def feed(self, text: str) -> list[TextEvent]:
        self._buffer += text
        return self._drain(final=False)

    def finish(self) -> list[TextEvent]:
        return self._drain(final=True)

    def _drain(self, final: bool) -> list[TextEvent]:
        out: list[TextEvent] = []
        while True:
            step, size = self._step, len(self._buffer)
            out += step(final)
            if self._step == step and len(self._buffer) == size:
                return out

    def _section_text(self, text: str) -> str:
        if self._at_start:
            text = text.lstrip()
            self._at_start = not text
        return text

    def _release(self, final: bool, tags: tuple[str, ...]) -> str:
        """The buffer's text that can go now: all of it at the end; else all but what could still become one of
        ``tags`` and trailing whitespace (it may precede a tag that ends the section, whose trailing whitespace is
        dropped)."""
        if final:
            released, self._buffer = self._buffer, ""
        else:
            released = self._buffer[: len(self._buffer) - held_prefix(self._buffer, tags)].rstrip()
            self._buffer = self._buffer[len(released) :]
        return self._section_text(released)


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
        return [*self._attach(self._parser.finish(), final=True), finish]

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
