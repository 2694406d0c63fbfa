"""The per-process response store: bounded, expiring, and OpenAI's 404 for an id it does not hold."""

from __future__ import annotations

import json

import pytest
from openai.types.responses import Response
from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.output_events import ContentText, ReasoningText, ToolCall
from trtllm_nix.proxy.responses_api.protocol import parse_request
from trtllm_nix.proxy.responses_api.render import ResponseMeta, render_response
from trtllm_nix.proxy.responses_api.store import (
    ResponseStore,
    StoredResponse,
    delete_response,
    get_response,
    previous_conversation,
    remember,
)
from trtllm_nix.proxy.responses_api.translate import to_chat


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def entry(response_id: str) -> StoredResponse:
    return StoredResponse({"id": response_id, "output": []}, [])


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = ResponseStore(ttl_s=10, clock=clock)
    store.put(entry("resp_a"))
    clock.now = 9.9
    assert store.get("resp_a") is not None
    clock.now = 10.0
    assert store.get("resp_a") is None
    assert len(store) == 0


def test_the_oldest_entry_goes_when_the_store_is_full() -> None:
    store = ResponseStore(max_entries=2)
    for name in ("resp_a", "resp_b", "resp_c"):
        store.put(entry(name))
    assert [store.get(name) is not None for name in ("resp_a", "resp_b", "resp_c")] == [False, True, True]


def test_unknown_ids_get_openais_404() -> None:
    store = ResponseStore()
    for call in (get_response, delete_response):
        with pytest.raises(APIError) as caught:
            call(store, "resp_nope")
        assert caught.value.status == 404
        assert caught.value.body() == {
            "error": {"message": "Response with id 'resp_nope' not found.", "type": "invalid_request_error",
                      "param": None, "code": None}
        }  # fmt: skip
    with pytest.raises(APIError) as caught:
        previous_conversation(store, "resp_nope")
    assert (caught.value.status, caught.value.param) == (404, "previous_response_id")


def test_get_then_delete_then_gone() -> None:
    store = ResponseStore()
    store.put(entry("resp_a"))
    assert get_response(store, "resp_a")["id"] == "resp_a"
    assert delete_response(store, "resp_a") == {"id": "resp_a", "object": "response.deleted", "deleted": True}
    with pytest.raises(APIError):
        get_response(store, "resp_a")


def test_a_second_turn_continues_the_first_with_its_output() -> None:
    store = ResponseStore()
    first = parse_request({"model": "m", "input": "Weather in Paris?", "instructions": "Use tools."})
    plan = to_chat(first)
    events = [
        ReasoningText("Ask the tool."),
        ContentText("Let me check."),
        ToolCall(0, "call_1", "get_weather", '{"city":"Paris"}'),
        Finish("stop", 10, 5),
    ]
    response = render_response(events, ResponseMeta("resp_1", "m", first))
    Response.model_validate(response)
    remember(store, first.store, plan.conversation, response)
    assert json.loads(json.dumps(get_response(store, "resp_1"))) == response

    second = parse_request(
        {"model": "m", "previous_response_id": "resp_1",
         "input": [{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]}
    )  # fmt: skip
    messages = to_chat(second, previous_conversation(store, second.previous_response_id)).messages
    assert messages == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "reasoning_content": "Ask the tool.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]  # fmt: skip


def test_store_false_keeps_nothing() -> None:
    store = ResponseStore()
    request = parse_request({"model": "m", "input": "x", "store": False})
    remember(store, request.store, [], render_response([Finish("stop", 1, 0)], ResponseMeta("resp_x", "m", request)))
    assert len(store) == 0
