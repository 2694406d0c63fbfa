"""From an OpenAI request's structured-output fields to one TensorRT-LLM guide (``GuidedDecoding``), or a clear 400.

Pure: reads the request body, returns a value or raises :class:`StructuredOutputError` (the route answers it as an
OpenAI ``invalid_request_error`` naming ``param``). What maps to what:

- ``response_format``: ``text`` -> none; ``json_object`` -> ``json``; ``json_schema`` -> ``json_schema`` with the
  INNER ``schema`` (trtllm-serve 1.2.1 passed the ``{name, schema}`` wrapper and got unconstrained JSON). ``strict``
  false is enforced too, as vLLM does: a grammar that holds is what a user asking for a schema wants.
- ``tool_choice``: ``required`` -> one or more calls (``parallel_tool_calls: false``: exactly one) over the
  request's tools; a named function -> exactly one call of it. The call syntax is the served model's tool-call
  format's (``formats.tool_calls``: Hermes ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`` by
  default), arguments held to the tool's ``parameters``. TensorRT-LLM's Triton backend knows no structural tags (only
  json, json_schema, regex, ebnf_grammar), so this is an ``ebnf_grammar``: xgrammar converts each tool's schema to
  EBNF and the format writes its call syntax around it.
- vLLM's extras: ``guided_json``, ``guided_regex``, ``guided_grammar``, ``guided_choice`` and ``structured_outputs``
  (``json``, ``regex``, ``grammar``, ``choice``, ``json_object``).
- More than one of these in one request -> 400; a schema xgrammar refuses -> 400 with its reason; JSON-schema
  keywords xgrammar accepts but does not enforce (:data:`UNENFORCED_KEYWORDS`) -> 400 naming the keyword, so a
  schema is never silently weakened.

JSON guides go to the backend as EBNF without free whitespace (``compact_json``: at most one whitespace character
where JSON allows any, as vLLM's ``disable-any-whitespace`` but keeping ``{"a": 1}`` as well as ``{"a":1}``);
``json_object`` is an object. Forced calls are compact (each format says what separates them).

Reasoning models (``reasoning``: the served model's reasoning format): the answer is constrained, the reasoning is
not. The guide becomes the format's EBNF ``root ::= (think [ \\n\\t]{0,4})? answer`` (``ReasoningFormat.guide``),
optional, so a turn whose prompt already closed the think block (thinking switched off) answers directly. vLLM
switches the grammar on after ``</think>`` in its reasoning parser; TensorRT-LLM's C++ backend has no such switch, so
it has to be in the grammar itself.
"""

from __future__ import annotations

import atexit
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.registry import AUTO_TOOL_CALLS, TOOL_CALL_FORMATS
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat
from trtllm_nix.proxy.grammar import (
    NUMBER_BOUNDS,
    UNENFORCED_KEYWORDS,
    StructuredOutputError,
    Tool,
    check_bounds,
    check_schema,
    ebnf_escape,
    json_strings,
    outside_literals,
    reason,
)

__all__ = ["NUMBER_BOUNDS", "UNENFORCED_KEYWORDS", "StructuredOutputError", "Tool", "guided_decoding_for"]

JSON_WHITESPACE = 1  # whitespace characters allowed at each place JSON allows whitespace (see compact_json)
VLLM_EXTRAS = ("guided_json", "guided_regex", "guided_grammar", "guided_choice", "structured_outputs")
JSON_OBJECT = GuidedDecoding("json", "")
_FREE_WHITESPACE = re.escape("[ \\n\\t]*")


def constraining_fields(body: Mapping[str, Any], format_param: str = "response_format") -> list[str]:
    """The fields of ``body`` that ask for a guide, found without xgrammar (so without compiling anything): what a
    served model without guided decoding refuses before any work. ``format_param``: what the client's API calls
    ``response_format`` (``text.format`` on /v1/responses), so every error names the field the client sent."""
    fields = []
    response_format = body.get("response_format")
    if response_format is not None and not (
        isinstance(response_format, Mapping) and response_format.get("type") == "text"
    ):
        fields.append(format_param)
    if body.get("tool_choice") not in (None, "auto", "none"):
        fields.append("tool_choice")
    return fields + [name for name in VLLM_EXTRAS if body.get(name) is not None]


def guided_decoding_for(
    body: Mapping[str, Any],
    reasoning: ReasoningFormat | None = None,
    format_param: str = "response_format",
    tool_calls: ToolCallFormat | None = None,
    schema_param: str = "parameters",
) -> GuidedDecoding | None:
    """The one guide the request asks for (None: unconstrained), checked to compile; see the module docstring.
    ``reasoning``: the think block a guide allows first (None: none). ``format_param`` names ``response_format`` in
    the client's API (see :func:`constraining_fields`), ``schema_param`` a tool's ``parameters`` (the Messages
    API's ``input_schema``). ``tool_calls``: the syntax a forced call is written in (None: ``--tool-call-parser
    auto``'s, Hermes)."""
    calls = tool_calls if tool_calls is not None else TOOL_CALL_FORMATS.create(AUTO_TOOL_CALLS)
    found = [(param, _guide_of(body, param, calls, schema_param)) for param in constraining_fields(body, format_param)]
    if not found:
        return None
    if len(found) > 1:
        names = " and ".join(param for param, _ in found)
        raise StructuredOutputError(f"{names} each constrain the output; send only one", found[1][0])
    param, guide = found[0]
    check_guide(guide, param)
    guide = compact_json(guide)
    if reasoning is None:
        return guide
    import xgrammar  # the format's optional, unconstrained think block before the answer (see the module docstring)

    answer = str(xgrammar.Grammar.from_regex(guide.guide)) if guide.guide_type == "regex" else guide.guide
    return GuidedDecoding("ebnf_grammar", reasoning.guide(answer))


def compact_json(guide: GuidedDecoding) -> GuidedDecoding:
    """JSON guides as EBNF with at most ``JSON_WHITESPACE`` whitespace character wherever JSON allows whitespace
    (see the module docstring): with JSON's free whitespace a weak model can fill the token limit with newlines
    inside the object. ``json`` (``json_object``) is a JSON object, any keys and values, never another value."""
    import xgrammar

    if guide.guide_type == "json":
        grammar = xgrammar.Grammar.from_json_schema(
            '{"type": "object"}', max_whitespace_cnt=JSON_WHITESPACE, strict_mode=False
        )
    elif guide.guide_type == "json_schema":
        grammar = xgrammar.Grammar.from_json_schema(guide.guide, max_whitespace_cnt=JSON_WHITESPACE)
    else:
        return guide
    # xgrammar 0.1.25 leaves [ \n\t]* in its rules for untyped values (basic_object, basic_array) whatever
    # max_whitespace_cnt says: bounded here, outside string literals
    bounded = f"[ \\n\\t]{{0,{JSON_WHITESPACE}}}"
    ebnf = outside_literals(json_strings(str(grammar)), _FREE_WHITESPACE, bounded, classes=False)
    return GuidedDecoding("ebnf_grammar", ebnf)


def tools_of(body: Mapping[str, Any], schema_param: str = "parameters") -> list[Tool]:
    tools = []
    for index, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise StructuredOutputError(f"tools[{index}] needs a function with a name", f"tools[{index}]")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping):
            raise StructuredOutputError(f"tools[{index}].function.parameters must be a JSON schema", "tools")
        tools.append(Tool(function["name"], parameters, schema_param))
    return tools


def check_guide(guide: GuidedDecoding, param: str) -> None:
    """Compile ``guide`` with xgrammar (a tiny byte vocabulary: the grammar, not the tokenizer, is checked), once
    it is within the bounds of ``guide_limits``. A check only: the compiled grammar is dropped, and the backend
    compiles the guide again with the model's tokenizer. The testkit's reference backend does that compile its own
    way (``trtllm_nix_testkit.reference.guided``, as TensorRT-LLM's ``GuidedDecoder``), not with this code, so the
    tests hold the proxy's guides to an independent compiler (docs/architecture.md)."""
    if guide.guide_type == "json_schema":
        try:
            schema = json.loads(guide.guide)
        except (ValueError, RecursionError) as error:
            raise StructuredOutputError(f"the JSON schema is not valid JSON: {error}", param) from error
        check_bounds(guide.guide, schema, param)
        check_schema(schema, param)
    else:
        check_bounds(guide.guide, None, param)
    import xgrammar

    try:
        if guide.guide_type == "json_schema":
            _compiler().compile_json_schema(guide.guide)
        elif guide.guide_type == "regex":
            _compiler().compile_grammar(xgrammar.Grammar.from_regex(guide.guide))
        elif guide.guide_type == "ebnf_grammar":
            _compiler().compile_grammar(xgrammar.Grammar.from_ebnf(guide.guide))
    except RuntimeError as error:
        raise StructuredOutputError(
            f"the grammar compiler refuses this {guide.guide_type}: {reason(error)}", param
        ) from error


def _guide_of(body: Mapping[str, Any], param: str, calls: ToolCallFormat, schema_param: str) -> GuidedDecoding:
    """The guide of one of the ``constraining_fields`` (so never a ``text`` format, ``tool_choice`` auto or none,
    or a null field)."""
    if param == "tool_choice":
        return _from_tool_choice(body, calls, schema_param)
    if param in VLLM_EXTRAS:
        return _from_vllm_extra(param, body[param])
    return _from_response_format(body["response_format"])


def _from_response_format(value: object) -> GuidedDecoding:
    if not isinstance(value, Mapping):
        raise StructuredOutputError("response_format must be an object with a type", "response_format")
    kind = value.get("type")
    if kind == "json_object":
        return JSON_OBJECT
    if kind != "json_schema":
        raise StructuredOutputError(
            f"response_format.type {kind!r} is not supported; use text, json_object or json_schema",
            "response_format.type",
        )
    wrapper = value.get("json_schema")
    if not isinstance(wrapper, Mapping):
        raise StructuredOutputError("response_format.json_schema must be an object", "response_format.json_schema")
    schema = wrapper.get("schema")
    if schema is None:
        return JSON_OBJECT
    if not isinstance(schema, Mapping):
        raise StructuredOutputError("response_format.json_schema.schema must be an object", "response_format")
    return GuidedDecoding("json_schema", json.dumps(schema))


def _from_tool_choice(body: Mapping[str, Any], calls: ToolCallFormat, schema_param: str) -> GuidedDecoding:
    choice = body["tool_choice"]
    tools = tools_of(body, schema_param)
    if choice == "required":
        if not tools:
            raise StructuredOutputError("tool_choice 'required' needs at least one tool in tools", "tool_choice")
        return calls.grammar(tools, at_most_one=body.get("parallel_tool_calls") is False)
    function = choice.get("function") if isinstance(choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str):
        raise StructuredOutputError(
            "tool_choice must be 'none', 'auto', 'required' or {'type': 'function', 'function': {'name': ...}}",
            "tool_choice",
        )
    named = [tool for tool in tools if tool.name == name]
    if not named:
        raise StructuredOutputError(f"tool_choice names {name!r}, which is not in tools", "tool_choice")
    return calls.grammar(named, at_most_one=True)


def _from_vllm_extra(name: str, value: object) -> GuidedDecoding:
    if name == "structured_outputs":
        given = [(k, v) for k, v in value.items() if v is not None] if isinstance(value, Mapping) else []
        if len(given) != 1:
            raise StructuredOutputError(
                "structured_outputs takes exactly one of json, regex, grammar, choice, json_object", name
            )
        [(key, inner)] = given
        if key == "json_object":
            return JSON_OBJECT
        if key not in ("json", "regex", "grammar", "choice"):
            raise StructuredOutputError(f"structured_outputs.{key} is not supported", f"structured_outputs.{key}")
        return _from_vllm_extra(f"guided_{key}", inner)
    if name == "guided_json":
        if isinstance(value, str):
            return GuidedDecoding("json_schema", value)
        if isinstance(value, Mapping):
            return GuidedDecoding("json_schema", json.dumps(value))
        raise StructuredOutputError("guided_json must be a JSON schema (object or string)", name)
    if name == "guided_choice":
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            raise StructuredOutputError("guided_choice must be a non-empty list of strings", name)
        return GuidedDecoding("ebnf_grammar", "root ::= " + " | ".join(f'"{ebnf_escape(item)}"' for item in value))
    if not isinstance(value, str) or not value:
        raise StructuredOutputError(f"{name} must be a non-empty string", name)
    return GuidedDecoding("regex" if name == "guided_regex" else "ebnf_grammar", value)


@cache
def _compiler() -> Any:
    import xgrammar

    vocab = [bytes([i]) for i in range(256)] + [b"<eos>"]
    info = xgrammar.TokenizerInfo(vocab, xgrammar.VocabType.RAW, vocab_size=len(vocab), stop_token_ids=[256])
    atexit.register(_compiler.cache_clear)  # freed before xgrammar's bindings check for leaks at exit
    return xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)
