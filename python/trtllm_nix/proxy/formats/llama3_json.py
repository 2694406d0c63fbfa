"""Llama 3.1/3.2/3.3 JSON tool calls (vLLM's ``llama3_json``): with tools in its chat template, the model answers
with a bare JSON object ``{"name": ..., "parameters": {...}}`` as its whole answer, optionally after the
``<|python_tag|>`` token, several separated by ``;``.

Parsing: an answer whose text starts (after whitespace) with ``{`` or ``<|python_tag|>`` may be calls, so it is
held until the generation ends (the call ends with it: Llama stops at ``<|eot_id|>``/``<|eom_id|>``), then read as
calls when every ``;``-separated object is one (a ``name`` and ``parameters`` or ``arguments``, an object or a JSON
string, nothing else); otherwise it is the model's text, released as it was. Any other answer streams as content at
once. Forcing: each call compact, ``parameters`` held to the tool's schema, ``"; "`` between calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.formats.registry import TOOL_CALL_FORMATS
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat, call_id, call_of
from trtllm_nix.proxy.grammar import Tool, call_json
from trtllm_nix.proxy.output_events import ContentText, ToolCall
from trtllm_nix.proxy.parsers.base import TextEvent, TextParser

PYTHON_TAG = "<|python_tag|>"
SEPARATOR = ";"
ARGUMENT_KEYS = ("parameters", "arguments")  # Llama's template asks for parameters; some answers say arguments


@TOOL_CALL_FORMATS.register("llama3_json")
class Llama3Json(ToolCallFormat):
    def parser(self, mode: Literal["parse", "drop"]) -> TextParser:
        return Llama3JsonParser(mode)

    def grammar(self, tools: Sequence[Tool], at_most_one: bool) -> GuidedDecoding:
        repeat = "" if at_most_one else ' ("; " call_json)*'
        return GuidedDecoding("ebnf_grammar", f"root ::= call_json{repeat}\n" + call_json(tools, "parameters"))


class Llama3JsonParser:
    def __init__(self, mode: Literal["parse", "drop"]) -> None:
        self._drop = mode == "drop"
        self._held = ""  # the answer so far, while it may still be calls
        self._streaming = False  # decided: plain content

    def feed(self, text: str) -> list[TextEvent]:
        if self._streaming:
            return [ContentText(text)]
        self._held += text
        start = self._held.lstrip()
        if start.startswith(("{", PYTHON_TAG)) or PYTHON_TAG.startswith(start):  # maybe calls (or nothing yet)
            return []
        self._streaming = True
        held, self._held = self._held, ""
        return [ContentText(held)]

    def finish(self) -> list[TextEvent]:
        held, self._held = self._held, ""
        if self._streaming or not held.strip():
            return [ContentText(held)] if held else []
        calls = calls_in(held)
        if calls is None:
            return [ContentText(held)]
        if self._drop:
            return []
        return [
            ToolCall(index, call_id(), name, arguments, argument_pieces=(arguments,))
            for index, (name, arguments) in enumerate(calls)
        ]


def calls_in(text: str) -> list[tuple[str, str]] | None:
    """The ``(name, arguments)`` of each call in ``text`` (optionally after ``<|python_tag|>``, ``;`` between
    calls), or None unless all of it is calls."""
    text = text.strip().removeprefix(PYTHON_TAG).lstrip()
    calls = []
    while True:
        try:
            body, at = json.JSONDecoder().raw_decode(text)
        except (json.JSONDecodeError, RecursionError):
            return None
        call = call_of(body, ARGUMENT_KEYS) if _call_shaped(body) else None
        if call is None:
            return None
        calls.append(call)
        text = text[at:].lstrip()
        if not text:
            return calls
        if not text.startswith(SEPARATOR):
            return None
        text = text[len(SEPARATOR) :].lstrip()


def _call_shaped(body: object) -> bool:
    """A name and exactly one of the argument keys, nothing else (``type: function`` aside): a JSON answer that
    merely has a ``name`` field is the model's text, not a call."""
    if not isinstance(body, dict):
        return False
    keys = set(body) - {"type"}
    return "name" in keys and len(keys & set(ARGUMENT_KEYS)) == 1 and len(keys) == 2
