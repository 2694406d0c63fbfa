"""``/v1/responses`` end to end: real proxy, real Triton (scripted and hf backends), the real openai SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton, wait_until
from tests.proxy.conftest import start_proxy

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ONE_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def test_create_splits_reasoning_text_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="qwen3",
        input="#reply: <think>\nThe user says hi.\n</think>\n\nHello! 👋",
        instructions="Be brief.",
    )
    assert response.status == "completed"
    assert response.output_text == "Hello! 👋"
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert "".join(part.text for part in reasoning.content or []) == "The user says hi."
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_stream_events_parse_and_add_up(client: openai.OpenAI) -> None:
    with client.responses.stream(model="qwen3", input="#reply: <think>\nStep one.\n</think>\n\nDone here.") as s:
        events = list(s)
        final = s.get_final_response()
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert "response.reasoning_text.delta" in types
    assert "response.output_text.done" in types
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == final.output_text == "Done here."


def test_length_cut_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model="qwen3", input="#reply: " + "word " * 50, max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize("stream", [False, True])
def test_function_tool_round_trip_with_previous_response_id(client: openai.OpenAI, stream: bool) -> None:
    tools: list[openai.types.responses.ToolParam] = [WEATHER]  # type: ignore[list-item]
    if stream:
        with client.responses.stream(model="qwen3", input="#reply: " + ONE_CALL, tools=tools) as s:
            list(s)
            first = s.get_final_response()
    else:
        first = client.responses.create(model="qwen3", input="#reply: " + ONE_CALL, tools=tools)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0].call_id
    second = client.responses.create(
        model="qwen3",
        previous_response_id=first.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": calls[0].call_id,
                "output": "#reply: 21 C, sunny.",
            }
        ],
        tools=tools,
    )
    assert second.output_text == "21 C, sunny."
    assert second.previous_response_id == first.id


def test_get_delete_and_404(client: openai.OpenAI) -> None:
    made = client.responses.create(model="qwen3", input="#reply: Kept.")
    assert client.responses.retrieve(made.id).output_text == "Kept."
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError) as gone:
        client.responses.retrieve(made.id)
    assert made.id in str(gone.value.body)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(model="qwen3", input="x", previous_response_id="resp_nope")
    assert isinstance(unknown.value.body, dict)
    assert unknown.value.body.get("param") == "previous_response_id"


def test_store_false_is_not_kept(client: openai.OpenAI) -> None:
    made = client.responses.create(model="qwen3", input="#reply: Gone.", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_refusals_are_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as guided:
        client.responses.create(
            model="qwen3",
            input="x",
            text={"format": {"type": "json_schema", "name": "a", "schema": {}}},
        )
    assert "text.format needs guided decoding" in str(guided.value)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.BadRequestError) as custom:
        client.responses.create(model="qwen3", input="x", tools=[{"type": "custom", "name": "apply_patch"}])
    assert "tools[0]" in str(custom.value)


def test_a_hosted_tool_is_skipped_and_named_in_a_header(client: openai.OpenAI) -> None:
    file_search = {"type": "file_search", "vector_store_ids": ["vs_1"]}
    tools: list[openai.types.responses.ToolParam] = [{"type": "web_search"}, WEATHER, file_search]  # type: ignore[list-item]
    raw = client.responses.with_raw_response.create(model="qwen3", input="#reply: No search here.", tools=tools)
    assert raw.headers["x-trtllm-nix-skipped-tools"] == "web_search, file_search"
    response = raw.parse()
    assert response.output_text == "No search here."
    assert [tool.type for tool in response.tools] == ["web_search", "function", "file_search"]
    plain = client.responses.with_raw_response.create(model="qwen3", input="#reply: ok", tools=[WEATHER])  # type: ignore[list-item]
    assert "x-trtllm-nix-skipped-tools" not in plain.headers


@pytest.mark.parametrize("stream", [False, True])
def test_a_namespaced_function_round_trip(client: openai.OpenAI, stream: bool) -> None:
    crm = {
        "type": "namespace",
        "name": "crm",
        "description": "The customer database.",
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}],
    }
    tools: list[openai.types.responses.ToolParam] = [crm, WEATHER]  # type: ignore[list-item]
    ask = '#reply: <tool_call>\n{"name": "crm.lookup", "arguments": {"id": 7}}\n</tool_call>'
    if stream:
        with client.responses.stream(model="qwen3", input=ask, tools=tools) as s:
            events = list(s)
            first = s.get_final_response()
        done = [event for event in events if event.type == "response.function_call_arguments.done"]
        assert [event.name for event in done] == ["lookup"]
    else:
        first = client.responses.create(model="qwen3", input=ask, tools=tools)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.namespace, c.name, json.loads(c.arguments)) for c in calls] == [("crm", "lookup", {"id": 7})]
    output = {"type": "function_call_output", "call_id": calls[0].call_id, "output": "#reply: Customer 7 is Ada."}
    second = client.responses.create(model="qwen3", previous_response_id=first.id, input=[output], tools=tools)  # type: ignore[list-item]
    assert second.output_text == "Customer 7 is Ada."
    replayed = [calls[0].model_dump(exclude_none=True), output]
    third = client.responses.create(model="qwen3", input=[{"role": "user", "content": ask}, *replayed], tools=tools)  # type: ignore[list-item]
    assert third.output_text == "Customer 7 is Ada."


def test_api_key_is_checked(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = start_proxy(scripted_triton, assets, api_key="sesame")
    try:
        for method, path in (
            ("POST", "/v1/responses"),
            ("GET", "/v1/responses/resp_x"),
            ("DELETE", "/v1/responses/x"),
        ):
            response = httpx.request(method, proxy.base_url + path, json={"model": "qwen3", "input": "x"})
            assert response.status_code == 401, (method, path)
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="sesame", max_retries=0) as sdk:
            assert sdk.responses.create(model="qwen3", input="#reply: In.").output_text == "In."
    finally:
        proxy.stop()


def test_failure_mid_stream_is_response_failed(client: openai.OpenAI) -> None:
    with client.responses.stream(model="qwen3", input="#reply: one two three four five six #fail_after:3") as s:
        events = list(s)
    assert events[-1].type == "response.failed"
    assert events[-1].response.error is not None  # type: ignore[union-attr]
    assert "the model server failed the request" in events[-1].response.error.message  # type: ignore[union-attr]


def test_invalid_json_is_a_400(scripted_proxy: ProxyThread) -> None:
    response = httpx.post(scripted_proxy.base_url + "/v1/responses", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_streaming_disconnect_cancels_generation(scripted_proxy: ProxyThread, scripted_triton: RunningTriton) -> None:
    before = scripted_triton.stats()
    body = {
        "model": "qwen3",
        "input": "word " * 200 + "#delay_ms:10",
        "stream": True,
        "max_output_tokens": 4000,
    }
    with httpx.stream("POST", scripted_proxy.base_url + "/v1/responses", json=body) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data: ") and "output_text.delta" in line
            if seen == 3:
                break
    wait_until(
        lambda: scripted_triton.stats()["cancelled"] == before["cancelled"] + 1,
        30,
        "the backend to stop",
    )
    assert scripted_triton.stats()["finished"] == before["finished"], "cancelled, not run to its end"


def test_hf_backend_answers(hf_proxy: ProxyThread) -> None:
    with openai.OpenAI(base_url=hf_proxy.base_url + "/v1", api_key="unused", max_retries=0) as sdk:
        response = sdk.responses.create(model="qwen3", input="Say hello.", max_output_tokens=8)
        with sdk.responses.stream(model="qwen3", input="Say hello.", max_output_tokens=8) as s:
            events = list(s)
    assert response.status in ("completed", "incomplete")
    assert response.output_text
    last = events[-1]  # the SDK's get_final_response() wants response.completed; a length cut is incomplete
    assert last.type in ("response.completed", "response.incomplete")
    streamed = last.response  # type: ignore[union-attr]
    assert streamed.usage is not None
    assert 0 < streamed.usage.output_tokens <= 8
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == streamed.output_text


def test_hf_round_trip_through_previous_response_id_is_the_explicit_history(
    hf_triton: RunningTriton, assets: Assets
) -> None:
    # A model, not a script: the first turn is forced to call (guided decoding), the call's output goes back by
    # previous_response_id, and the stored turns must be exactly what the model sees: greedy, the same answer and
    # input token count as sending the whole history by hand.
    proxy = start_proxy(hf_triton, assets, reasoning_parser="none", model_repository=hf_triton.server.model_repository)
    try:
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0) as sdk:
            city: Any = {"type": "string", "maxLength": 10}  # so a random model's call ends within its bound
            tools: Any = [{**WEATHER, "parameters": {**WEATHER["parameters"], "properties": {"city": city}}}]
            bounded: dict[str, Any] = {"model": "qwen3", "temperature": 0, "max_output_tokens": 8}
            forced = {**bounded, "max_output_tokens": 48, "tool_choice": "required"}
            first = sdk.responses.create(input="Weather in Paris?", tools=tools, **forced)
            calls = [item for item in first.output if item.type == "function_call"]
            assert [call.name for call in calls] == ["get_weather"]
            assert set(json.loads(calls[0].arguments)) == {"city"}
            result: Any = [{"type": "function_call_output", "call_id": calls[0].call_id, "output": "21 C, sunny."}]
            stored = sdk.responses.create(previous_response_id=first.id, input=result, tools=tools, **bounded)
            history: Any = [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather",
                 "arguments": calls[0].arguments},
                *result,
            ]  # fmt: skip
            explicit = sdk.responses.create(input=history, tools=tools, **bounded)
    finally:
        proxy.stop()
    assert stored.previous_response_id == first.id
    assert stored.usage is not None
    assert explicit.usage is not None
    assert first.usage is not None
    assert stored.usage.input_tokens == explicit.usage.input_tokens > first.usage.input_tokens
    assert stored.output_text == explicit.output_text
    assert stored.usage.output_tokens == explicit.usage.output_tokens > 0
