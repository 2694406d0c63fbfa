"""The final Response object and the SSE event grammar, checked with the openai SDK's own typed models and fed
through the SDK's stream helpers as raw bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter
from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, Tokens, ToolCall
from trtllm_nix.proxy.responses_api.protocol import parse_request
from trtllm_nix.proxy.responses_api.render import ResponseMeta, StreamRenderer, new_meta, render_response

EVENT = TypeAdapter(ResponseStreamEvent)

THINK_THEN_ANSWER: list[OutputEvent] = [
    ReasoningText("The user greets ", Tokens((1, 2, 3))),
    ReasoningText("me.", Tokens((4,))),
    ContentText("Hello", Tokens((5,))),
    ContentText(" there!", Tokens((6, 7))),
    Finish("stop", prompt_tokens=11, completion_tokens=9),
]
TOOL_CALLS: list[OutputEvent] = [
    ReasoningText("Need weather.", Tokens((1, 2))),
    ToolCall(0, "call_a", "get_weather", '{"city": "Paris"}', Tokens((3, 4))),
    ToolCall(1, "call_b", "get_weather", '{"city": "Oslo"}', Tokens((5, 6))),
    Finish("stop", prompt_tokens=20, completion_tokens=6),
]
CUT: list[OutputEvent] = [ContentText("Once upon a", Tokens((1, 2, 3))), Finish("length", 5, 3)]


def meta(**request: Any) -> ResponseMeta:
    return ResponseMeta("resp_0123abcd", "qwen3", parse_request({"model": "qwen3", "input": "hi", **request}))


def streamed(events: Sequence[OutputEvent], request_meta: ResponseMeta) -> tuple[bytes, StreamRenderer]:
    renderer = StreamRenderer(request_meta)
    return renderer.start() + b"".join(renderer.feed(event) for event in events), renderer


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n")
        assert name.startswith("event: ")
        event = json.loads(data.removeprefix("data: "))
        assert event["type"] == name.removeprefix("event: ")
        events.append(event)
    return events


def test_a_thought_and_an_answer_make_a_valid_response() -> None:
    body = render_response(THINK_THEN_ANSWER, meta())
    response = Response.model_validate(body)
    assert response.status == "completed"
    assert response.incomplete_details is None
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output_text == "Hello there!"
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.content is not None
    assert reasoning.content[0].text == "The user greets me."
    assert reasoning.summary == []  # no summary asked for
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (11, 9, 20)
    assert response.usage.output_tokens_details.reasoning_tokens == 4


def test_a_summary_request_also_gets_the_reasoning_as_its_summary() -> None:
    response = Response.model_validate(render_response(THINK_THEN_ANSWER, meta(reasoning={"summary": "auto"})))
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == ["The user greets me."]


def test_tool_calls_become_function_call_items() -> None:
    response = Response.model_validate(render_response(TOOL_CALLS, meta(tools=[{"type": "function", "name": "w"}])))
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(call.call_id, call.name, json.loads(call.arguments)) for call in calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    assert len({item.id for item in response.output}) == 3
    assert response.tools[0].type == "function"


def test_a_namespaced_call_comes_back_with_its_namespace() -> None:
    crm = {"type": "namespace", "name": "crm", "description": "CRM", "tools": [{"type": "function", "name": "lookup"}]}
    events: list[OutputEvent] = [ToolCall(0, "call_a", "crm.lookup", '{"id": 7}'), Finish("stop", 9, 4)]
    request_meta = meta(tools=[{"type": "function", "name": "lookup"}, crm, {"type": "web_search"}])
    raw, renderer = streamed(events, request_meta)
    parsed = [EVENT.validate_python(event) for event in parse_sse(raw)]
    done = [event for event in parsed if event.type == "response.output_item.done"]
    assert [(item.item.namespace, item.item.name) for item in done] == [("crm", "lookup")]  # type: ignore[union-attr]
    response = Response.model_validate(renderer.final)
    assert [tool.type for tool in response.tools] == ["function", "namespace", "web_search"]


def test_an_answer_cut_by_the_limit_is_incomplete_for_max_output_tokens() -> None:
    response = Response.model_validate(render_response(CUT, meta(max_output_tokens=3)))
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].type == "message"
    assert response.output[0].status == "incomplete"
    assert response.max_output_tokens == 3


@pytest.mark.parametrize("stream", [False, True])
def test_calls_then_tokens_without_text_make_no_empty_message(stream: bool) -> None:
    """A forced call repeated until the limit, the next one cut inside its tag: the parser drops the cut markup and
    its tokens come without text. They count, but open no empty message beside the calls (the AI SDK and pydantic-ai
    read a message item as the model's text)."""
    events: list[OutputEvent] = [
        ToolCall(0, "call_a", "get_weather", '{"city": "Paris"}', Tokens((1, 2))),
        ContentText("", Tokens((3,))),
        Finish("length", prompt_tokens=9, completion_tokens=3),
    ]
    if stream:
        raw, renderer = streamed(events, meta())
        types = [event["type"] for event in parse_sse(raw)]
        assert not [kind for kind in types if "output_text" in kind or "content_part" in kind], types
        body = renderer.final
    else:
        body = render_response(events, meta())
    response = Response.model_validate(body)
    assert [item.type for item in response.output] == ["function_call"]
    assert response.status == "incomplete"
    assert response.usage is not None
    assert response.usage.output_tokens == 3


def test_the_request_settings_are_echoed() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = meta(
        instructions="be brief",
        metadata={"k": "v"},
        temperature=0.5,
        top_p=0.9,
        text={"format": {"type": "json_schema", "name": "A", "schema": schema}},
        reasoning={"effort": "low"},
        tool_choice="none",
        parallel_tool_calls=False,
    )
    response = Response.model_validate(render_response(THINK_THEN_ANSWER, request))
    assert (response.instructions, response.metadata, response.temperature, response.top_p) == (
        "be brief",
        {"k": "v"},
        0.5,
        0.9,
    )
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"
    assert response.reasoning is not None
    assert response.reasoning.effort == "low"
    assert (response.tool_choice, response.parallel_tool_calls) == ("none", False)


def test_render_needs_a_finish() -> None:
    with pytest.raises(ValueError, match="without Finish"):
        render_response(THINK_THEN_ANSWER[:-1], meta())


@pytest.mark.parametrize("events", [THINK_THEN_ANSWER, TOOL_CALLS, CUT], ids=["answer", "tools", "cut"])
@pytest.mark.parametrize("summary", [False, True])
def test_every_streamed_event_is_one_the_sdk_knows_and_ends_with_the_final_object(
    events: list[OutputEvent], summary: bool
) -> None:
    request_meta = meta(reasoning={"summary": "detailed"}) if summary else meta()
    raw, renderer = streamed(events, request_meta)
    parsed = parse_sse(raw)
    for event in parsed:
        EVENT.validate_python(event)
    assert [event["sequence_number"] for event in parsed] == list(range(len(parsed)))
    assert [event["type"] for event in parsed[:2]] == ["response.created", "response.in_progress"]
    assert parsed[-1]["response"] == renderer.final == render_response(events, request_meta)
    types = [event["type"] for event in parsed]
    assert types.count("response.output_item.added") == types.count("response.output_item.done")
    assert ("response.reasoning_summary_text.delta" in types) == (summary and events is not CUT)


def test_the_stream_grammar_of_a_thought_and_an_answer() -> None:
    raw, _ = streamed(THINK_THEN_ANSWER, meta(reasoning={"summary": "auto"}))
    types = [event["type"] for event in parse_sse(raw)]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_a_cut_stream_ends_with_response_incomplete() -> None:
    raw, _ = streamed(CUT, meta())
    last = parse_sse(raw)[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_mid_stream_is_response_failed_with_what_was_produced() -> None:
    renderer = StreamRenderer(meta())
    raw = renderer.start() + renderer.feed(ContentText("Hel")) + renderer.fail("the backend went away")
    parsed = parse_sse(raw)
    for event in parsed:
        EVENT.validate_python(event)
    failed = Response.model_validate(parsed[-1]["response"])
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("server_error", "the backend went away")
    assert failed.output[0].type == "message"
    assert failed.output[0].status == "incomplete"


def test_nothing_follows_the_end_of_a_response() -> None:
    renderer = StreamRenderer(meta())
    renderer.start()
    renderer.feed(Finish("stop", 1, 0))
    with pytest.raises(ValueError, match="after Finish"):
        renderer.feed(ContentText("late"))
    with pytest.raises(ValueError, match="already ended"):
        renderer.fail("late")


def test_new_meta_gives_each_response_its_own_id() -> None:
    request = parse_request({"model": "qwen3", "input": "hi"})
    first, second = new_meta("qwen3", request), new_meta("qwen3", request)
    assert first.id.startswith("resp_")
    assert first.id != second.id
    body = Response.model_validate(render_response([Finish("stop", 1, 0)], first))
    assert body.id == first.id


# ---- the real SDK against the rendered bytes ---------------------------------------------------------------------


def sdk_client(answer: Callable[[dict[str, Any]], httpx.Response]) -> openai.OpenAI:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/responses"
        return answer(json.loads(request.content))

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return openai.OpenAI(base_url="http://proxy.test/v1", api_key="k", http_client=http, max_retries=0)


def replay(events: Sequence[OutputEvent]) -> Callable[[dict[str, Any]], httpx.Response]:
    def answer(body: dict[str, Any]) -> httpx.Response:
        request_meta = ResponseMeta("resp_0123abcd", "qwen3", parse_request(body))
        if body.get("stream"):
            raw, _ = streamed(events, request_meta)
            return httpx.Response(200, content=raw, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=render_response(events, request_meta))

    return answer


def test_the_sdk_create_reads_the_object() -> None:
    with sdk_client(replay(THINK_THEN_ANSWER)) as client:
        response = client.responses.create(model="qwen3", input="hi")
    assert response.output_text == "Hello there!"
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 4


def test_the_sdk_stream_helper_accumulates_the_same_response() -> None:
    with (
        sdk_client(replay(THINK_THEN_ANSWER)) as client,
        client.responses.stream(model="qwen3", input="hi", reasoning={"summary": "auto"}) as stream,
    ):
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Hello there!"
    assert final.output[0].type == "reasoning"


def test_the_sdk_stream_helper_reads_function_calls() -> None:
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}]
    with (
        sdk_client(replay(TOOL_CALLS)) as client,
        client.responses.stream(model="qwen3", input="weather?", tools=tools) as stream,
    ):
        snapshots = [event.snapshot for event in stream if event.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [call.arguments for call in calls] == snapshots == ['{"city": "Paris"}', '{"city": "Oslo"}']


def test_the_sdk_create_stream_yields_typed_events() -> None:
    with sdk_client(replay(CUT)) as client:
        events = list(client.responses.create(model="qwen3", input="hi", stream=True, max_output_tokens=3))
    assert events[-1].type == "response.incomplete"
    assert [event.sequence_number for event in events] == list(range(len(events)))
