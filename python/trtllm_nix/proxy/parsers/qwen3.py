"""Qwen3's output markup as typed events: reasoning, content and Hermes tool calls.

``Qwen3OutputParser`` reads Qwen3's ``<think>…</think>`` and Hermes-style ``<tool_call>{json}</tool_call>`` markup
from text that may arrive split anywhere (even inside a tag): it holds back only what could still become a tag,
so any split of the same text gives the same merged message. A tool call is checked as a whole before anything of
it is sent; a closed but malformed one stays visible as content, an unclosed one at the end (cut by the token
limit, even inside its opening tag when no answer text came after the last call) is dropped: raw markup is never
answer text. This class sees text only; ``parsers.base.SpanParser`` gives
each event the tokens it came from.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Literal

from trtllm_nix.proxy.output_events import ContentText, ReasoningText, ToolCall

TextEvent = ReasoningText | ContentText | ToolCall

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
ToolMode = Literal["off", "parse", "drop"]
_ARGUMENTS = re.compile(r'"arguments"\s*:\s*')


def thinking_open_in_prompt(generation_prompt: str) -> bool:
    """True when the generation prompt (what the template adds for the answer, never the users' messages: a user's
    ``<think>`` must not turn the answer into reasoning) ends inside a think block."""
    return generation_prompt.rfind(THINK_OPEN) > generation_prompt.rfind(THINK_CLOSE)


def _held_prefix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of one of ``tags``."""
    for size in range(min(len(text), max(len(t) for t in tags) - 1), 0, -1):
        if any(tag.startswith(text[-size:]) for tag in tags):
            return size
    return 0


class Qwen3OutputParser:
    def __init__(
        self,
        reasoning: bool = True,
        thinking_open: bool = False,
        tools: ToolMode = "off",
    ) -> None:
        self._reasoning = reasoning
        self._tools = tools
        self._mode = "reasoning" if reasoning and thinking_open else "start"
        self._buffer = ""
        self._at_section_start = True  # leading whitespace of a reasoning or content section is dropped
        self._call_pieces: list[str] = []
        self._calls = 0
        self._space_before_call = ""
        self._content_seen = False
        self._content_since_call = False  # answer text since the last call (or the start): a cut tag then is text

    def feed(self, text: str) -> list[TextEvent]:
        self._buffer += text
        return self._drain(final=False)

    def finish(self) -> list[TextEvent]:
        out = self._drain(final=True)
        if self._mode == "call":  # an unclosed call (cut by the token limit, say): never content, no call either
            self._call_pieces = []
        return out

    def _drain(self, final: bool) -> list[TextEvent]:
        out: list[TextEvent] = []
        while True:
            before = (self._mode, len(self._buffer))
            step = {
                "start": self._start,
                "reasoning": self._in_reasoning,
                "content": self._in_content,
                "call": self._in_call,
            }[self._mode]
            out += step(final)
            if (self._mode, len(self._buffer)) == before:
                return out

    def _start(self, final: bool) -> list[TextEvent]:
        stripped = self._buffer.lstrip()
        if self._reasoning and stripped.startswith(THINK_OPEN):
            self._buffer = stripped[len(THINK_OPEN) :]
            self._mode, self._at_section_start = "reasoning", True
        elif self._reasoning and THINK_OPEN.startswith(stripped) and not final:
            pass  # could still become <think>: wait
        else:  # an answer without a think block: its text is the model's, leading space included (its tokens
            self._mode, self._at_section_start = "content", False  # carry it; logprobs would not add up otherwise)
        return []

    def _in_reasoning(self, final: bool) -> list[TextEvent]:
        end = self._buffer.find(THINK_CLOSE)
        if end >= 0:
            text = self._section(self._buffer[:end]).rstrip()
            self._buffer = self._buffer[end + len(THINK_CLOSE) :]
            self._mode, self._at_section_start = "content", True
            return self._reasoning_delta(text)
        if final:
            text, self._buffer = self._section(self._buffer).rstrip(), ""
            return self._reasoning_delta(text)
        return self._reasoning_delta(self._emit_safe((THINK_CLOSE,)))

    def _in_content(self, final: bool) -> list[TextEvent]:
        if self._tools != "off":
            start = self._buffer.find(CALL_OPEN)
            if start >= 0:
                text = self._section(self._buffer[:start])
                core = text.rstrip()
                self._space_before_call = text[len(core) :]  # given back if the call turns out malformed
                self._buffer = self._buffer[start + len(CALL_OPEN) :]
                self._mode = "call"
                return self._content(core)
        if final:
            if self._tools != "off" and not self._content_since_call:
                keep = _held_prefix(self._buffer, (CALL_OPEN,))
                if keep and not self._buffer[: len(self._buffer) - keep].strip():
                    self._buffer = ""  # a call cut inside its opening tag ('<' after a call): markup, not text
                    return []
            text, self._buffer = self._section(self._buffer), ""
            return self._content(text)
        tags = (CALL_OPEN,) if self._tools != "off" else ()
        return self._content(self._emit_safe(tags))

    def _content(self, text: str) -> list[TextEvent]:
        if not text:
            return []
        self._content_seen = self._content_since_call = True
        return [ContentText(text)]

    def _in_call(self, final: bool) -> list[TextEvent]:
        end = self._buffer.find(CALL_CLOSE)
        if end < 0:
            keep = _held_prefix(self._buffer, (CALL_CLOSE,))
            if len(self._buffer) > keep:
                self._call_pieces.append(self._buffer[: len(self._buffer) - keep])
                self._buffer = self._buffer[len(self._buffer) - keep :]
            return []
        if end > 0:
            self._call_pieces.append(self._buffer[:end])
        self._buffer = self._buffer[end + len(CALL_CLOSE) :]
        pieces, self._call_pieces = self._call_pieces, []
        self._mode = "content"
        return self._tool_call(pieces)

    def _emit_safe(self, tags: tuple[str, ...]) -> str:
        """Take what cannot become one of ``tags`` or a section's trailing whitespace before a tag."""
        keep = _held_prefix(self._buffer, tags) if tags else 0
        body = self._buffer[: len(self._buffer) - keep]
        stripped = body.rstrip()
        keep += len(body) - len(stripped)  # trailing whitespace may precede a closing tag
        text = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(self._buffer) - keep :]
        return self._section(text)

    def _section(self, text: str) -> str:
        if self._at_section_start:
            text = text.lstrip()
            self._at_section_start = not text
        return text

    def _reasoning_delta(self, text: str) -> list[TextEvent]:
        if not text:
            return []
        return [ReasoningText(text)]

    def _tool_call(self, pieces: list[str]) -> list[TextEvent]:
        body = "".join(pieces)
        parsed = _parse_call(body)
        if parsed is None:
            return self._malformed(self._space_before_call + CALL_OPEN + body + CALL_CLOSE)
        # whitespace after a call is layout, unless content came before it (then it separates words)
        self._at_section_start = not self._content_seen
        self._content_since_call = False
        if self._tools == "drop":
            return []
        name, arguments = parsed
        index, self._calls = self._calls, self._calls + 1
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        return [
            ToolCall(index, call_id, name, arguments, argument_pieces=tuple(_argument_pieces(body, pieces, arguments)))
        ]

    def _malformed(self, text: str) -> list[TextEvent]:
        return [] if self._tools == "drop" else self._content(text)


def _parse_call(body: str) -> tuple[str, str] | None:
    """``(name, arguments as a JSON object string)`` of a Hermes call body, or None when it is not one."""
    try:
        call = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
        return None
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return call["name"], json.dumps(arguments, ensure_ascii=False)


def _argument_pieces(body: str, pieces: list[str], canonical: str) -> list[str]:
    """The arguments in the pieces the model generated them in, when its own text is the canonical JSON;
    otherwise the canonical JSON in one piece."""
    match = _ARGUMENTS.search(body)
    if match is None:
        return [canonical]
    try:
        _, end = json.JSONDecoder().raw_decode(body, match.end())
    except json.JSONDecodeError:
        return [canonical]
    start = match.end()
    if body[start:end] != canonical:
        return [canonical]
    out, offset = [], 0
    for piece in pieces:
        lo, hi = max(start, offset), min(end, offset + len(piece))
        if lo < hi:
            out.append(body[lo:hi])
        offset += len(piece)
    return out
