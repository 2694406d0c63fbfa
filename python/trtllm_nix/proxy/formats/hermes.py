"""Hermes tool calls (Qwen2.5/Qwen3, SmolLM and others), one or more anywhere in the answer:
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``.

Parsing (any split of the same text gives the same message: ``TagSplitter``): a call is checked as a whole before
anything of it is sent; a closed but malformed one stays visible as content, an unclosed one at the end (cut by the
token limit, even inside its opening tag when no answer text came after the last call) is dropped: raw markup is
never answer text. Forcing: each call compact, one newline between calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.formats.registry import TOOL_CALL_FORMATS
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat, call_id, call_of
from trtllm_nix.proxy.grammar import Tool, call_json
from trtllm_nix.proxy.output_events import ContentText, ToolCall
from trtllm_nix.proxy.parsers.base import TagSplitter, TextEvent, TextParser, held_prefix

CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
_ARGUMENTS = re.compile(r'"arguments"\s*:\s*')


@TOOL_CALL_FORMATS.register("hermes")
class Hermes(ToolCallFormat):
    def parser(self, mode: Literal["parse", "drop"]) -> TextParser:
        return HermesParser(mode)

    def grammar(self, tools: Sequence[Tool], at_most_one: bool) -> GuidedDecoding:
        repeat = "" if at_most_one else ' ("\\n" tool_call)*'
        head = f'root ::= tool_call{repeat}\ntool_call ::= "<tool_call>\\n" call_json "\\n</tool_call>"\n'
        return GuidedDecoding("ebnf_grammar", head + call_json(tools, "arguments"))


class HermesParser(TagSplitter):
    def __init__(self, mode: Literal["parse", "drop"]) -> None:
        super().__init__(self._content, at_start=False)
        self._drop = mode == "drop"
        self._call_pieces: list[str] = []  # of the open call; at the end, an unclosed one is neither content nor call
        self._calls = 0
        self._space_before_call = ""
        self._content_seen = False
        self._content_since_call = False  # answer text since the last call (or the start): a cut tag then is text

    def _content(self, final: bool) -> list[TextEvent]:
        start = self._buffer.find(CALL_OPEN)
        if start >= 0:
            text = self._section_text(self._buffer[:start])
            core = text.rstrip()
            self._space_before_call = text[len(core) :]  # given back if the call turns out malformed
            self._buffer = self._buffer[start + len(CALL_OPEN) :]
            self._step = self._call
            return self._answer(core)
        if final and not self._content_since_call:
            keep = held_prefix(self._buffer, (CALL_OPEN,))
            if keep and not self._buffer[: len(self._buffer) - keep].strip():
                self._buffer = ""  # a call cut inside its opening tag ('<' after a call): markup, not text
                return []
        return self._answer(self._release(final, (CALL_OPEN,)))

    def _answer(self, text: str) -> list[TextEvent]:
        if not text:
            return []
        self._content_seen = self._content_since_call = True
        return [ContentText(text)]

    def _call(self, final: bool) -> list[TextEvent]:
        end = self._buffer.find(CALL_CLOSE)
        cut = end if end >= 0 else len(self._buffer) - held_prefix(self._buffer, (CALL_CLOSE,))
        if cut > 0:
            self._call_pieces.append(self._buffer[:cut])
        if end < 0:
            self._buffer = self._buffer[cut:]
            return []
        self._buffer = self._buffer[end + len(CALL_CLOSE) :]
        pieces, self._call_pieces = self._call_pieces, []
        self._step = self._content
        return self._tool_call(pieces)

    def _tool_call(self, pieces: list[str]) -> list[TextEvent]:
        body = "".join(pieces)
        try:
            parsed = call_of(json.loads(body))
        except json.JSONDecodeError:
            parsed = None
        if parsed is None:  # malformed: visible as content (dropped with tool_choice none)
            return [] if self._drop else self._answer(self._space_before_call + CALL_OPEN + body + CALL_CLOSE)
        # whitespace after a call is layout, unless content came before it (then it separates words)
        self._at_start = not self._content_seen
        self._content_since_call = False
        if self._drop:
            return []
        name, arguments = parsed
        index, self._calls = self._calls, self._calls + 1
        return [ToolCall(index, call_id(), name, arguments, argument_pieces=argument_pieces(body, pieces, arguments))]


def argument_pieces(body: str, pieces: list[str], canonical: str) -> tuple[str, ...]:
    """The arguments in the pieces the model generated them in, when its own text is the canonical JSON;
    otherwise the canonical JSON in one piece."""
    match = _ARGUMENTS.search(body)
    if match is None:
        return (canonical,)
    try:
        _, end = json.JSONDecoder().raw_decode(body, match.end())
    except json.JSONDecodeError:
        return (canonical,)
    start = match.end()
    if body[start:end] != canonical:
        return (canonical,)
    out, offset = [], 0
    for piece in pieces:
        lo, hi = max(start, offset), min(end, offset + len(piece))
        if lo < hi:
            out.append(body[lo:hi])
        offset += len(piece)
    return tuple(out)
