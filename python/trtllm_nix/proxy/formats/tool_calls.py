"""What a tool-call format is: a family's call markup, read from the answer AND forced by a grammar, in one class,
so parsing and forcing cannot drift. A subclass registers with ``@TOOL_CALL_FORMATS.register(name)`` (the
``--tool-call-parser`` name).
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Literal

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.grammar import Tool
from trtllm_nix.proxy.parsers.base import TextParser

# parse: calls become tool_calls; drop: calls and their markup are removed (tool_choice none); off: no tools in the
# request, markup is plain content (no tool-call parser runs)
ToolMode = Literal["off", "parse", "drop"]


class ToolCallFormat(ABC):
    name: ClassVar[str]

    @abstractmethod
    def parser(self, mode: Literal["parse", "drop"]) -> TextParser:
        """A streaming parser of the answer's text after any reasoning (``ContentText`` and ``ToolCall`` out)."""

    @abstractmethod
    def grammar(self, tools: Sequence[Tool], at_most_one: bool) -> GuidedDecoding:
        """EBNF forcing calls of ``tools`` in this syntax: exactly one when ``at_most_one``, else one or more."""


def call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def call_of(body: object, arguments_keys: tuple[str, ...] = ("arguments",)) -> tuple[str, str] | None:
    """``(name, arguments as a JSON object string)`` of a decoded call object, or None when it is not one. The
    arguments are under the first of ``arguments_keys`` present (absent: ``{}``), as an object or a JSON string."""
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        return None
    key = next((k for k in arguments_keys if k in body), None)
    arguments = body[key] if key is not None else {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return body["name"], json.dumps(arguments, ensure_ascii=False)
