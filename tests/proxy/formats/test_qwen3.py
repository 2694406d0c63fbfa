"""Qwen3's formats as served: ``<think>`` reasoning (formats.qwen3) and Hermes tool calls (formats.hermes), from text
split anywhere, merged the same every time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trtllm_nix.proxy.formats.hermes import Hermes
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.formats.tool_calls import ToolMode
from trtllm_nix.proxy.parsers.base import TextParser
from trtllm_nix.proxy.serving.chat import ChatRenderer, merge_deltas
from trtllm_nix.proxy.serving.encoding import ResponseIdentity

THINK = "<think>\nThe user greets me.\nI greet back.\n</think>\n\nHello 世界 🎉!"
CALLS = (
    '<think>\nNeed data.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
    '</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>'
)
SAMPLES = [THINK, CALLS, '<tool_call>\n{"name": broken}\n</tool_call> visible', "plain answer, no tags"]


def _parser(tools: ToolMode, reasoning: bool = True, thinking_open: bool = False) -> TextParser:
    """As ``ChatJob.parser`` composes them: the reasoning splitter, the answer's text through the Hermes parser."""
    calls = Hermes().parser(tools) if tools != "off" else None
    if not reasoning:
        assert calls is not None
        return calls
    return Qwen3Reasoning().splitter(thinking_open, calls)


def _deltas(pieces: list[str], tools: ToolMode = "parse", reasoning_alias: bool = False, **options: Any) -> list[Any]:
    """The chat deltas the renderer makes of the parser's events."""
    parser = _parser(tools, **options)
    events = [e for piece in pieces for e in parser.feed(piece)] + parser.finish()
    renderer = ChatRenderer(None, ResponseIdentity("chat", "m"), logprobs=False, alias=reasoning_alias)  # type: ignore[arg-type]
    return [p.delta for event in events for p in renderer.pieces(event)]


def _run(pieces: list[str], tools: ToolMode = "parse", **options: Any) -> dict[str, Any]:
    message = merge_deltas(_deltas(pieces, tools, **options))
    for call in message.get("tool_calls", []):
        assert call.pop("id").startswith("call_")
    return message


def test_reasoning_and_content_are_separated() -> None:
    assert _run([THINK]) == {
        "role": "assistant",
        "content": "Hello 世界 🎉!",
        "reasoning_content": "The user greets me.\nI greet back.",
    }


@pytest.mark.parametrize("text", SAMPLES)
def test_every_single_cut_gives_the_same_message(text: str) -> None:
    whole = _run([text])
    for cut in range(1, len(text)):
        assert _run([text[:cut], text[cut:]]) == whole, cut
    assert _run(list(text)) == whole


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_any_split_gives_the_same_message(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert _run(pieces) == _run([text])


def test_two_calls_with_ids_names_then_argument_pieces() -> None:
    deltas = _deltas(list(CALLS))
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    heads = [c for c in calls if "id" in c]
    assert [(h["index"], h["function"]["name"], h["function"]["arguments"]) for h in heads] == [
        (0, "get_weather", ""),
        (1, "get_time", ""),
    ]
    for index, expected in ((0, {"city": "Paris"}), (1, {"zone": "CET"})):
        pieces = [c["function"]["arguments"] for c in calls if c["index"] == index and "id" not in c]
        assert len(pieces) > 1, "arguments come in the pieces the model generated"
        assert json.loads("".join(pieces)) == expected
    assert not any("content" in d for d in deltas)


def test_malformed_call_stays_visible_as_content() -> None:
    assert _run(['Sure. <tool_call>\n{"name": broken}\n</tool_call> after']) == {
        "role": "assistant",
        "content": 'Sure. <tool_call>\n{"name": broken}\n</tool_call> after',
    }
    assert _run(['<tool_call>{"arguments": {}}</tool_call>'])["content"] == '<tool_call>{"arguments": {}}</tool_call>'


def test_an_unfinished_trailing_call_is_never_content() -> None:
    """A call cut off by the token limit (or an end) is no answer text: a client would show raw markup."""
    assert _run(['<tool_call>{"name": "cut off"']) == {"role": "assistant", "content": ""}
    cut = _run([CALLS.split("</tool_call>")[0] + '</tool_call>\n<tool_call>\n{"name": "get_time", "argumen'])
    assert cut["content"] is None  # calls and no text, as OpenAI answers it
    assert [call["function"]["name"] for call in cut["tool_calls"]] == ["get_weather"]
    assert _run(['Sure. <tool_call>\n{"name": "f"'])["content"] == "Sure."


@pytest.mark.parametrize("cut", ["<", "\n<", "\n<tool", "\n<tool_call"])
def test_a_call_cut_inside_its_opening_tag_is_never_content(cut: str) -> None:
    """SmolLM2 repeating a forced call until max_tokens, cut after the '<' of the next call (the hf demo, AI SDK and
    chat alike): the cut tag is markup, not answer text, whether calls came before it or nothing did."""
    first = CALLS.split("</tool_call>")[0] + "</tool_call>"
    cut_after_a_call = _run([first + cut])
    assert cut_after_a_call["content"] is None, cut_after_a_call
    assert [call["function"]["name"] for call in cut_after_a_call["tool_calls"]] == ["get_weather"]
    assert _run([cut.lstrip()]) == {"role": "assistant", "content": ""}
    assert _run([first + cut], tools="drop")["content"] == ""


def test_text_ending_in_a_less_than_sign_stays_text() -> None:
    """Only markup is dropped: an answer's own '<' after its text is the answer's."""
    assert _run(["2 <"])["content"] == "2 <"
    assert _run([CALLS.split("</tool_call>")[0] + "</tool_call> then x <"])["content"] == "then x <"


def test_tool_choice_none_drops_calls_and_their_markup() -> None:
    assert _run([CALLS], tools="drop") == {"role": "assistant", "content": "", "reasoning_content": "Need data."}
    assert _run(['x <tool_call>{"name": bad</tool_call>'], tools="drop")["content"] == "x"


def test_without_tools_markup_is_plain_content() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    assert _run([text], tools="off") == {"role": "assistant", "content": text}


def test_thinking_off_leaves_no_reasoning_and_no_tags() -> None:
    assert _run(["<think>\n\n</think>\n\nJust the answer."]) == {"role": "assistant", "content": "Just the answer."}


def test_thinking_opened_by_the_prompt() -> None:
    qwen3 = Qwen3Reasoning()
    assert qwen3.opened_by("<|im_start|>assistant\n<think>\n")
    assert not qwen3.opened_by("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert not qwen3.opened_by("<|im_start|>assistant\n")
    assert qwen3.closed_by("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    message = _run(["Let me see.\n</think>\n\n42"], thinking_open=True)
    assert message == {"role": "assistant", "content": "42", "reasoning_content": "Let me see."}


def test_reasoning_alias_and_a_reasoning_cut_by_length() -> None:
    assert _run(["<think>\nstill going"], reasoning_alias=True) == {
        "role": "assistant",
        "content": "",
        "reasoning_content": "still going",
        "reasoning": "still going",
    }


def test_arguments_given_as_a_json_string_are_normalized() -> None:
    message = _run(['<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>'])
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
