"""OpenAI/vLLM structured-output fields -> one TensorRT-LLM guide, checked with xgrammar; refusals name the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
import xgrammar
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.structured import (
    NUMBER_BOUNDS,
    UNENFORCED_KEYWORDS,
    StructuredOutputError,
    guided_decoding_for,
)

EOS = 256
INFO = xgrammar.TokenizerInfo(
    [bytes([i]) for i in range(256)] + [b"<eos>"], xgrammar.VocabType.RAW, vocab_size=257, stop_token_ids=[EOS]
)
COMPILER = xgrammar.GrammarCompiler(INFO, max_threads=1)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
CALL_WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n</tool_call>'
CALL_TIME = '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'


def _accepts(guide: GuidedDecoding, text: str) -> bool:
    if guide.guide_type == "json":
        compiled = COMPILER.compile_builtin_json_grammar()
    elif guide.guide_type == "json_schema":
        compiled = COMPILER.compile_json_schema(guide.guide)
    elif guide.guide_type == "regex":
        compiled = COMPILER.compile_grammar(xgrammar.Grammar.from_regex(guide.guide))
    else:
        compiled = COMPILER.compile_grammar(xgrammar.Grammar.from_ebnf(guide.guide))
    matcher = xgrammar.GrammarMatcher(compiled)
    return bool(matcher.accept_string(text)) and bool(matcher.accept_token(EOS)) and bool(matcher.is_terminated())


def _schema_format(schema: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    return {
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": strict}}
    }


def test_plain_requests_and_text_format_are_unconstrained() -> None:
    assert guided_decoding_for({}) is None
    assert guided_decoding_for({"response_format": {"type": "text"}, "tools": [WEATHER], "tool_choice": "auto"}) is None


@pytest.mark.parametrize(
    "body", [{"response_format": {"type": "json_object"}}, {"structured_outputs": {"json_object": True}}]
)
def test_json_object_is_a_json_object_not_any_json_value(body: dict[str, Any]) -> None:
    guide = guided_decoding_for(body)
    assert guide is not None
    assert _accepts(guide, '{"a": [1, 2], "b": {"c": null}}')
    assert _accepts(guide, "{}")
    for other in ("[1, 2]", '[""]', '"just a string"', "3"):
        assert not _accepts(guide, other), other


@pytest.mark.parametrize("strict", [True, False])
def test_json_schema_sends_the_inner_schema_not_the_openai_wrapper(strict: bool) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    guide = guided_decoding_for(_schema_format(schema, strict))
    assert guide is not None
    assert _accepts(guide, '{"a": 1}')
    assert not _accepts(guide, '{"name": "x", "schema": {}}')


@pytest.mark.parametrize(
    "body",
    [
        _schema_format({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
        {"guided_json": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
        {"response_format": {"type": "json_object"}},
    ],
)
@pytest.mark.parametrize("reasoning", [None, Qwen3Reasoning()])
def test_json_grammars_leave_no_room_for_runaway_whitespace(
    body: dict[str, Any], reasoning: ReasoningFormat | None
) -> None:
    """At most one whitespace character where JSON allows any: a weak model cannot fill max_tokens with newlines
    inside the object (the real SmolLM2 wrote 100 of them into a two-field answer)."""
    guide = guided_decoding_for(body, reasoning=reasoning)
    assert guide is not None
    assert _accepts(guide, '{"a": 1}')
    assert _accepts(guide, '{"a":1}')
    for loose in ('{\n  "a": 1\n}', '{"a":' + " " * 50 + "1}", '{"a": 1}' + "\n" * 20):
        assert not _accepts(guide, loose), loose


def test_whitespace_after_the_think_block_is_bounded() -> None:
    guide = guided_decoding_for({"tools": [TIME], "tool_choice": "required"}, reasoning=Qwen3Reasoning())
    assert guide is not None
    assert _accepts(guide, "<think>\nhm\n</think>\n\n" + CALL_TIME)
    assert not _accepts(guide, "<think>\nhm\n</think>" + "\n" * 40 + CALL_TIME)


def test_required_forces_one_or_more_valid_calls_over_the_tools() -> None:
    guide = guided_decoding_for({"tools": [WEATHER, TIME], "tool_choice": "required"})
    assert guide is not None
    assert guide.guide_type == "ebnf_grammar"
    assert _accepts(guide, CALL_WEATHER)
    assert _accepts(guide, CALL_WEATHER + "\n" + CALL_TIME)
    assert not _accepts(guide, "Sure! " + CALL_WEATHER)
    assert not _accepts(guide, '<tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call>')  # city
    assert not _accepts(guide, '<tool_call>\n{"name": "nope", "arguments": {}}\n</tool_call>')
    assert not _accepts(guide, "")


def test_parallel_tool_calls_false_allows_exactly_one_call() -> None:
    guide = guided_decoding_for({"tools": [WEATHER, TIME], "tool_choice": "required", "parallel_tool_calls": False})
    assert guide is not None
    assert _accepts(guide, CALL_TIME)
    assert not _accepts(guide, CALL_WEATHER + "\n" + CALL_TIME)


def test_a_named_function_forces_exactly_that_call() -> None:
    choice = {"type": "function", "function": {"name": "get_time"}}
    guide = guided_decoding_for({"tools": [WEATHER, TIME], "tool_choice": choice})
    assert guide is not None
    assert _accepts(guide, CALL_TIME)
    assert not _accepts(guide, CALL_WEATHER)
    assert not _accepts(guide, CALL_TIME + "\n" + CALL_TIME)


def test_reasoning_models_get_a_free_think_block_before_the_constrained_answer() -> None:
    schema = {"type": "object", "properties": {"a": {"enum": [1, 2]}}, "required": ["a"]}
    guide = guided_decoding_for(_schema_format(schema), reasoning=Qwen3Reasoning())
    assert guide is not None
    assert guide.guide_type == "ebnf_grammar"
    assert _accepts(guide, '<think>\nlet me see: {"a": 3}? <b> </thin no\n</think>\n\n{"a": 2}')
    assert _accepts(guide, '{"a": 1}')
    assert not _accepts(guide, '<think>x</think>{"a": 3}')
    assert not _accepts(guide, 'no think block {"a": 1}')
    tool = guided_decoding_for({"tools": [TIME], "tool_choice": "required"}, reasoning=Qwen3Reasoning())
    assert tool is not None
    assert _accepts(tool, "<think>\nI need the time.\n</think>\n\n" + CALL_TIME)


def test_vllm_extras() -> None:
    assert guided_decoding_for({"guided_regex": "[0-9]+"}) == GuidedDecoding("regex", "[0-9]+")
    integer = guided_decoding_for({"guided_json": {"type": "integer"}})
    assert integer is not None
    assert _accepts(integer, "42")
    assert not _accepts(integer, '"42"')
    choice = guided_decoding_for({"guided_choice": ["yes", 'n"o']})
    assert choice is not None
    assert _accepts(choice, 'n"o')
    assert not _accepts(choice, "maybe")
    grammar = guided_decoding_for({"structured_outputs": {"grammar": 'root ::= "a"+'}})
    assert grammar is not None
    assert _accepts(grammar, "aaa")


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"response_format": {"type": "yaml"}}, "response_format.type", "'yaml' is not supported"),
        (_schema_format({"type": "strin"}), "response_format", 'Unsupported type "strin"'),
        (_schema_format({"type": "object", "properties": {"a": {"not": {}}}}), "response_format", "'not'"),
        (_schema_format({"type": "number", "minimum": 1}), "response_format", "'minimum' on a number"),
        ({"guided_regex": "(?<=a)b"}, "guided_regex", "Lookbehind"),
        ({"guided_grammar": "root ::= "}, "guided_grammar", "refuses this ebnf_grammar"),
        ({"tool_choice": "required"}, "tool_choice", "needs at least one tool"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}}, "tool_choice", "'x'"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice", "must be 'none'"),
        (
            {"response_format": {"type": "json_object"}, "tools": [WEATHER], "tool_choice": "required"},
            "tool_choice",
            "only one",
        ),
        ({"structured_outputs": {"regex": "a", "json": {}}}, "structured_outputs", "exactly one"),
    ],
)
def test_what_cannot_be_enforced_is_a_400_naming_the_field(body: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(StructuredOutputError, match=None) as caught:
        guided_decoding_for(body)
    assert caught.value.param == param
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("keyword", "schema", "violating"),
    [
        ("not", {"not": {"type": "string"}}, '"a"'),
        ("allOf", {"allOf": [{"type": "integer"}, {"type": "integer", "maximum": 5}]}, "9"),
        ("multipleOf", {"type": "integer", "multipleOf": 3}, "4"),
        ("exclusiveMinimum", {"type": "integer", "exclusiveMinimum": 3}, "3"),
        ("minimum", {"type": "number", "minimum": 5}, "1.5"),
    ],
)
def test_each_refused_keyword_really_is_unenforced_by_xgrammar(
    keyword: str, schema: dict[str, Any], violating: str
) -> None:
    assert keyword in UNENFORCED_KEYWORDS + NUMBER_BOUNDS
    assert _accepts(GuidedDecoding("json_schema", json.dumps(schema)), violating)


@pytest.mark.parametrize("reasoning", [None, Qwen3Reasoning()])
@pytest.mark.parametrize("field", ["response_format", "tool_choice"])
def test_length_bounded_strings_refuse_raw_control_characters(field: str, reasoning: ReasoningFormat | None) -> None:
    # xgrammar 0.1.25 lets a tab into a string with maxLength (not JSON); a random model wrote one into a forced
    # call's arguments, which then did not parse. The guides carry JSON's character class instead.
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10}}, "required": ["city"]}
    assert _accepts(GuidedDecoding("json_schema", json.dumps(schema)), '{"city": "a\tb"}')  # the bug, still there
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    body = _schema_format(schema) if field == "response_format" else {"tools": tools, "tool_choice": "required"}
    guide = guided_decoding_for(body, reasoning=reasoning)
    assert guide is not None
    wrap = (lambda doc: doc) if field == "response_format" else (lambda doc: CALL_F.format(doc))
    assert _accepts(guide, wrap('{"city": "ab"}'))
    assert not _accepts(guide, wrap('{"city": "a\tb"}'))


CALL_F = '<tool_call>\n{{"name": "f", "arguments": {}}}\n</tool_call>'
