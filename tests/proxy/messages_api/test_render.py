"""Output events as Anthropic's Message and its event grammar: one assembler, so the two agree."""

from __future__ import annotations

import json
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.messages_api.render import MessageMeta, StreamRenderer, render_message
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, ToolCall

SIGNER = ThinkingSigner(b"test")
SDK_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
CALL = ToolCall(0, "call_abc", "Read", '{"path": "a"}', argument_pieces=('{"path"', ': "a"}'))


def _meta(**fields: Any) -> MessageMeta:
    return MessageMeta("qwen3", 12, SIGNER, id="msg_1", **fields)


def _streamed(events: list[OutputEvent], meta: MessageMeta) -> list[dict[str, Any]]:
    renderer = StreamRenderer(meta)
    raw = renderer.start() + b"".join(renderer.feed(event) for event in events)
    out = []
    for chunk in raw.decode().split("\n\n"):
        if chunk:
            name, data = chunk.split("\n")
            out.append(json.loads(data.removeprefix("data: ")))
            assert name == f"event: {out[-1]['type']}"
    assert renderer.final == render_message(events, meta)
    return out


def test_thinking_then_a_call() -> None:
    events: list[OutputEvent] = [ReasoningText("I should "), ReasoningText("read."), ContentText(""), CALL,
                                 Finish("stop", 12, 9)]  # fmt: skip
    message = render_message(events, _meta())
    signature = SIGNER.sign("I should read.")
    assert message == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "qwen3",
        "content": [
            {"type": "thinking", "thinking": "I should read.", "signature": signature},
            {"type": "tool_use", "id": "toolu_abc", "name": "Read", "input": {"path": "a"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 9, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    }  # fmt: skip
    stream = _streamed(events, _meta())
    assert [(e["type"], e.get("delta", {}).get("type")) for e in stream] == [
        ("message_start", None),
        ("ping", None),
        ("content_block_start", None),
        ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "signature_delta"),
        ("content_block_stop", None),
        ("content_block_start", None),
        ("content_block_delta", "input_json_delta"),
        ("content_block_delta", "input_json_delta"),
        ("content_block_stop", None),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert stream[0]["message"]["usage"]["input_tokens"] == 12
    assert stream[7]["content_block"] == {"type": "tool_use", "id": "toolu_abc", "name": "Read", "input": {}}
    assert stream[-2] == {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                          "usage": {"output_tokens": 9}}  # fmt: skip


def test_omitted_thinking_sends_the_signature_only() -> None:
    events: list[OutputEvent] = [ReasoningText("secret plan"), ContentText("Hi"), Finish("stop", 12, 3)]
    meta = _meta(show_thinking=False)
    thinking = render_message(events, meta)["content"][0]
    assert thinking["thinking"] == ""
    assert SIGNER.open(thinking["signature"], "") == "secret plan"
    deltas = [e["delta"]["type"] for e in _streamed(events, meta) if e["type"] == "content_block_delta"]
    assert deltas == ["signature_delta", "text_delta"]


def test_stop_reasons() -> None:
    def reason(*events: OutputEvent) -> tuple[str, str | None]:
        message = render_message(list(events), _meta())
        return message["stop_reason"], message["stop_sequence"]

    assert reason(ContentText("a"), Finish("stop", 1, 1)) == ("end_turn", None)
    assert reason(ContentText("a"), Finish("stop", 1, 1, stop="END")) == ("stop_sequence", "END")
    assert reason(ContentText("a"), Finish("length", 1, 1)) == ("max_tokens", None)
    assert reason(CALL, Finish("stop", 1, 1)) == ("tool_use", None)
    assert reason(CALL, Finish("length", 1, 1)) == ("max_tokens", None)  # the limit cut it, calls or not


def test_calls_after_the_first_are_dropped_when_parallel_use_is_disabled() -> None:
    second = ToolCall(1, "call_def", "Read", '{"path": "b"}')
    events: list[OutputEvent] = [CALL, second, Finish("stop", 1, 1)]
    assert len(render_message(events, _meta())["content"]) == 2
    assert [b["id"] for b in render_message(events, _meta(single_call=True))["content"]] == ["toolu_abc"]


def test_an_empty_answer_has_no_blocks() -> None:
    assert render_message([ContentText(""), Finish("stop", 1, 0)], _meta())["content"] == []


def _piece() -> st.SearchStrategy[OutputEvent]:
    text = st.text(min_size=0, max_size=6)
    call = st.builds(
        lambda n, value, split: ToolCall(n, f"call_{n}", "Read", json.dumps({"v": value}),
                                         argument_pieces=_split(json.dumps({"v": value}), split)),
        st.integers(0, 3), st.text(max_size=5), st.integers(0, 12),
    )  # fmt: skip
    return st.one_of(st.builds(ReasoningText, text), st.builds(ContentText, text), call)


def _split(text: str, at: int) -> tuple[str, ...]:
    return (text[:at], text[at:]) if 0 < at < len(text) else ()


@settings(deadline=None)  # a shared machine; the first example also warms the SDK's models
@given(
    st.lists(_piece(), max_size=8),
    st.sampled_from([Finish("stop", 5, 7), Finish("length", 5, 7), Finish("stop", 5, 7, stop="END")]),
    st.booleans(),
)
def test_the_sdks_own_accumulator_rebuilds_the_message_from_the_stream(
    pieces: list[OutputEvent], finish: Finish, shown: bool
) -> None:
    events = [*pieces, finish]
    meta = _meta(show_thinking=shown)
    snapshot: Any = None
    json_buffers: dict[int, bytes] = {}
    for event in _streamed(events, meta):
        if event["type"] != "ping":
            snapshot = accumulate_event(event=SDK_EVENT.validate_python(event), current_snapshot=snapshot,
                                        json_bufs=json_buffers)  # fmt: skip
    assert snapshot.model_dump(exclude_none=True) == _without_none(render_message(events, meta))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
