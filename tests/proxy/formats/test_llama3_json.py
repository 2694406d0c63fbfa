"""Llama 3.x JSON tool calls (``--tool-call-parser llama3_json``): the parser reads the bare ``{"name": ...,
"parameters": ...}`` answer from text split anywhere, and the grammar that forces a call writes exactly what the
parser reads (checked with xgrammar), so parsing and forcing cannot drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import xgrammar
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.formats.llama3_json import Llama3Json, calls_in
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.formats.tool_calls import ToolMode
from trtllm_nix.proxy.grammar import Tool
from trtllm_nix.proxy.serving.chat import ChatRenderer, merge_deltas
from trtllm_nix.proxy.serving.encoding import ResponseIdentity
from trtllm_nix.proxy.structured import guided_decoding_for
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces, served_repository

CALL = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
TWO = CALL + '; {"name": "get_time", "parameters": {"zone": "CET"}}'
SAMPLES = [CALL, TWO, "<|python_tag|>" + CALL, '{"name": "Ada", "age": 36}', "Plain answer { with a brace", "  "]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}},
}
EOS = 256
COMPILER = xgrammar.GrammarCompiler(
    xgrammar.TokenizerInfo(
        [bytes([i]) for i in range(256)] + [b"<eos>"], xgrammar.VocabType.RAW, vocab_size=257, stop_token_ids=[EOS]
    ),
    max_threads=1,
)


def _run(texts: list[str], tools: ToolMode = "parse") -> dict[str, Any]:
    parser = Llama3Json().parser("drop" if tools == "drop" else "parse")
    events = [e for text in texts for e in parser.feed(text)] + parser.finish()
    renderer = ChatRenderer(None, ResponseIdentity("chat", "m"), logprobs=False, alias=False)  # type: ignore[arg-type]
    message = merge_deltas([p.delta for event in events for p in renderer.pieces(event)])
    for call in message.get("tool_calls", []):
        assert call.pop("id").startswith("call_")
    return message


def _accepts(guide: GuidedDecoding, text: str) -> bool:
    matcher = xgrammar.GrammarMatcher(COMPILER.compile_grammar(xgrammar.Grammar.from_ebnf(guide.guide)))
    return bool(matcher.accept_string(text) and matcher.accept_token(EOS) and matcher.is_terminated())


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def test_a_call_answer_becomes_a_tool_call() -> None:
    assert _run([CALL]) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [_call("get_weather", {"city": "Paris"})],
    }


def test_calls_separated_by_semicolons_the_python_tag_and_arguments_as_a_string() -> None:
    assert [c["function"]["name"] for c in _run([TWO])["tool_calls"]] == ["get_weather", "get_time"]
    assert _run(["<|python_tag|>" + CALL])["tool_calls"] == [_call("get_weather", {"city": "Paris"})]
    spelled = '{"name": "f", "arguments": "{\\"a\\": 1}"}'
    assert _run([spelled])["tool_calls"] == [_call("f", {"a": 1})]


def test_json_that_is_not_a_call_stays_the_models_text() -> None:
    for text in ('{"name": "Ada", "age": 36}', '{"city": "Paris"}', CALL + " and more", '{"name": "f", "parameters"'):
        assert _run([text]) == {"role": "assistant", "content": text}, text


def test_plain_text_streams_at_once_and_keeps_its_leading_space() -> None:
    parser = Llama3Json().parser("parse")
    assert [e.text for e in parser.feed(" Hello")] == [" Hello"]  # type: ignore[union-attr]
    assert [e.text for e in parser.feed(" {x}")] == [" {x}"]  # type: ignore[union-attr]
    assert parser.finish() == []


def test_a_possible_call_is_held_until_the_end() -> None:
    parser = Llama3Json().parser("parse")
    assert parser.feed('{"name": "get_weather", ') == []
    assert parser.feed('"parameters": {"city": "Paris"}}') == []
    assert len(parser.finish()) == 1


def test_tool_choice_none_drops_calls_but_not_text() -> None:
    assert _run([CALL], tools="drop") == {"role": "assistant", "content": ""}
    assert _run(["no call"], tools="drop") == {"role": "assistant", "content": "no call"}


@pytest.mark.parametrize("text", SAMPLES)
def test_every_single_cut_gives_the_same_message(text: str) -> None:
    whole = _run([text])
    for cut in range(1, len(text)):
        assert _run([text[:cut], text[cut:]]) == whole, cut


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=0, max_value=120), max_size=8))
def test_any_split_gives_the_same_message(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    assert _run([text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]) == _run([text])


def test_after_qwen3_reasoning_the_answer_is_read_for_calls() -> None:
    """The formats compose: any reasoning format's splitter hands the answer's text to this parser."""
    parser = Qwen3Reasoning().splitter(False, Llama3Json().parser("parse"))
    events = parser.feed("<think>\nweather?\n</think>\n\n" + CALL) + parser.finish()
    assert [type(e).__name__ for e in events] == ["ReasoningText", "ToolCall"]


def test_the_forcing_grammar_writes_what_the_parser_reads() -> None:
    tools = [Tool("get_weather", WEATHER["function"]["parameters"]), Tool("get_time", TIME["function"]["parameters"])]
    guide = Llama3Json().grammar(tools, at_most_one=False)
    assert _accepts(guide, CALL)
    assert _accepts(guide, TWO)
    assert calls_in(TWO) is not None
    assert not _accepts(guide, '{"name": "get_weather", "parameters": {}}')  # city is required
    assert not _accepts(guide, '{"name": "get_weather", "arguments": {"city": "Paris"}}')
    assert not _accepts(guide, "Sure! " + CALL)
    assert not _accepts(guide, '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>')
    one = Llama3Json().grammar(tools, at_most_one=True)
    assert _accepts(one, CALL)
    assert not _accepts(one, TWO)


def test_structured_writes_a_forced_call_in_the_served_format() -> None:
    body = {"tools": [WEATHER, TIME], "tool_choice": {"type": "function", "function": {"name": "get_time"}}}
    guide = guided_decoding_for(body, tool_calls=Llama3Json())
    assert guide is not None
    assert _accepts(guide, '{"name": "get_time", "parameters": {"zone": "CET"}}')
    assert not _accepts(guide, CALL)
    hermes = guided_decoding_for(body)  # the auto format: Hermes
    assert hermes is not None
    assert not _accepts(hermes, '{"name": "get_time", "parameters": {"zone": "CET"}}')


def test_served_with_the_flag_calls_are_parsed_and_forced_in_llama_syntax(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    upstream = FakeUpstream(
        lambda _: pieces(tokenizer, ['{"name": "get_weather", ', '"parameters": {"city": "Oslo"}}'])
    )
    repository = served_repository(tmp_path, 4096, guided=True)
    app = app_with(
        assets.tokenizer, upstream, reasoning_parser="none", tool_call_parser="llama3_json", model_repository=repository
    )
    chat = {"model": "qwen3", "messages": [{"role": "user", "content": "Oslo?"}], "tools": [WEATHER]}
    with client_for(app) as client:
        auto = client.post("/v1/chat/completions", json=chat).json()["choices"][0]
        forced = client.post("/v1/chat/completions", json={**chat, "tool_choice": "required"})
    assert auto["finish_reason"] == "tool_calls"
    assert auto["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert forced.status_code == 200, forced.text
    guide = upstream.requests[-1].guided
    assert guide is not None
    assert _accepts(guide, '{"name": "get_weather", "parameters": {"city": "Oslo"}}')
