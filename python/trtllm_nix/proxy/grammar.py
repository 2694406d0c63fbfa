"""EBNF pieces shared by ``proxy.structured`` (a request's guide) and the model formats (``proxy.formats``: the
grammar that forces a family's tool call, the think block before a guided answer): xgrammar's JSON-schema grammars
with JSON's string characters, rule renaming and escaping, the checks that keep a schema from being silently
weakened, and :class:`StructuredOutputError` (a 400 naming ``param``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtllm_nix.proxy.guide_limits import guide_bound_exceeded

# Keywords xgrammar 0.1.25 (TensorRT-LLM's pin) compiles without enforcing; tests/proxy/test_structured.py proves
# each one is still unenforced, so the list shrinks when xgrammar learns them.
UNENFORCED_KEYWORDS = ("not", "allOf", "multipleOf", "exclusiveMinimum")
NUMBER_BOUNDS = ("minimum",)  # enforced for integers, not for numbers (maximum is)
# xgrammar 0.1.25 writes the characters of a string with minLength/maxLength as [^"\\\r\n] (as it prints it): raw
# control characters such as a tab pass, which is not JSON (RFC 8259 section 7: U+0000..U+001F must be escaped), and
# a tool call holding one does not parse. Grammars with that class are sent with the one JSON allows (xgrammar's own
# class for unbounded strings); a json_schema guide with it goes to the backend as the fixed ebnf_grammar.
LOOSE_STRING_CHAR = '[^\\"\\\\\\r\\n]'
JSON_STRING_CHAR = '[^\\0-\\x1f\\"\\\\\\r\\n]'


class StructuredOutputError(ValueError):
    """A structured-output request that cannot be honoured exactly: a 400 naming ``param``."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: Mapping[str, Any]
    schema_param: str = "parameters"  # what the client's API calls a tool's schema, for errors


def call_json(tools: Sequence[Tool], arguments_key: str) -> str:
    """EBNF whose rule ``call_json`` is one compact JSON call object of one of ``tools``:
    ``{"name": <a tool's name>, "<arguments_key>": <its parameters>}``, arguments held to the tool's schema."""
    import xgrammar

    choices = [
        {
            "type": "object",
            "properties": {"name": {"const": tool.name}, arguments_key: dict(tool.parameters)},
            "required": ["name", arguments_key],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    schema = choices[0] if len(choices) == 1 else {"anyOf": choices}
    check_bounds(json.dumps(schema), schema, "tools")
    for tool in tools:
        check_schema(tool.parameters, f"tools[{tool.name}].{tool.schema_param}")
    try:
        grammar = xgrammar.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False)
    except RuntimeError as error:
        raise StructuredOutputError(f"a tool's parameters cannot be enforced: {reason(error)}", "tools") from error
    return rename_root(json_strings(str(grammar)), "call_json")


def json_strings(ebnf: str) -> str:
    """``ebnf`` with xgrammar's loose string character class replaced by JSON's (see ``LOOSE_STRING_CHAR``)."""
    return ebnf.replace(LOOSE_STRING_CHAR, JSON_STRING_CHAR)


def text_without(tag: str) -> str:
    """An EBNF expression for one character of text that cannot contain ``tag``: after each proper prefix of the
    tag, any character that does not extend it (repeat it with ``*``)."""
    parts = [f"[^{class_escape(tag[0])}]"] + [
        f'"{ebnf_escape(tag[:i])}" [^{class_escape(tag[i])}]' for i in range(1, len(tag))
    ]
    return f"({' | '.join(parts)})"


def check_bounds(text: str, schema: object | None, param: str) -> None:
    exceeded = guide_bound_exceeded(text, schema)
    if exceeded is not None:
        raise StructuredOutputError(f"{param} is too large to compile: {exceeded}", param)


def check_schema(schema: object, param: str) -> None:
    for path, node in _schema_nodes(schema, "schema"):
        for keyword in UNENFORCED_KEYWORDS:
            if keyword in node and not (keyword == "allOf" and len(node[keyword]) <= 1):
                raise StructuredOutputError(
                    f"{path} uses {keyword!r}, which the grammar compiler (xgrammar) does not enforce; "
                    "rewrite the schema without it",
                    param,
                )
        if node.get("type") == "number":
            for keyword in NUMBER_BOUNDS:
                if keyword in node:
                    raise StructuredOutputError(
                        f"{path} uses {keyword!r} on a number, which the grammar compiler (xgrammar) does not "
                        "enforce; use type integer or drop the bound",
                        param,
                    )


def _schema_nodes(node: object, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        yield path, node
        for key, value in node.items():
            if key in ("enum", "const", "default", "examples", "required"):
                continue
            yield from _schema_nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schema_nodes(value, f"{path}[{index}]")


_STRING_LITERAL = r'"(?:[^"\\]|\\.)*"'
_CLASS = r"\[(?:[^\]\\]|\\.)*\]"


def outside_literals(ebnf: str, pattern: str, replacement: str, classes: bool = True) -> str:
    """``ebnf`` with the matches of ``pattern`` replaced by ``replacement`` outside string literals (and, with
    ``classes``, character classes)."""
    literals = f"{_STRING_LITERAL}|{_CLASS}" if classes else _STRING_LITERAL
    return re.sub(f"({literals})|{pattern}", lambda match: match.group(1) or replacement, ebnf)


def rename_root(ebnf: str, name: str) -> str:
    """``ebnf`` with its rule ``root`` called ``name``."""
    return outside_literals(ebnf, r"(?<![\w-])root(?![\w-])", name)


def reason(error: Exception) -> str:
    """xgrammar's message for a client: without its ``[time] file.cc:line:`` prefix, its internal ``Check failed:
    (...) is false:`` assertion text and the input it echoes back, at most 300 characters."""
    text = re.sub(r"^\[[^\]]*\]\s*\S+:\d+:\s*", "", str(error).strip()).splitlines()[0]
    text = re.sub(r"^Check failed: \(.*?\) is false:\s*", "", text)
    text = re.split(r"\.?\s*The JSON string is:", text)[0]
    return text[:300]


def ebnf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def class_escape(char: str) -> str:
    return "\\" + char if char in "]\\^-" else char
