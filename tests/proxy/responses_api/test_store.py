"""The response store: a SQLite database every worker (and every proxy sharing the state directory) sees, bounded
by bytes and age, kept across restarts; OpenAI's 404 for an id it does not hold."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from openai.types.responses import Response
from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.output_events import ContentText, ReasoningText, ToolCall
from trtllm_nix.proxy.responses_api.protocol import FunctionCallItem, ReasoningItem, parse_request
from trtllm_nix.proxy.responses_api.render import ResponseMeta, render_response
from trtllm_nix.proxy.responses_api.store import (
    ResponseStore,
    StoredResponse,
    delete_response,
    get_response,
    previous_conversation,
    remember,
    resolve_references,
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


def sized(response_id: str, size: int) -> StoredResponse:
    """An entry whose stored JSON is about ``size`` bytes."""
    return StoredResponse({"id": response_id, "output": [], "pad": "x" * size}, [])


def test_the_oldest_entries_go_when_the_store_is_over_its_bytes() -> None:
    store = ResponseStore(max_bytes=25_000)
    for name in ("resp_a", "resp_b", "resp_c"):
        store.put(sized(name, 10_000))
    assert [store.get(name) is not None for name in ("resp_a", "resp_b", "resp_c")] == [False, True, True]
    assert 20_000 <= store.bytes() <= 25_000


def test_an_entry_larger_than_the_whole_store_is_not_kept() -> None:
    store = ResponseStore(max_bytes=5_000)
    store.put(sized("resp_small", 100))
    store.put(sized("resp_huge", 10_000))
    assert store.get("resp_huge") is None
    assert store.get("resp_small") is not None  # a response too big to keep pushes nothing else out


def test_entries_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = 1_000.0
    first = ResponseStore(tmp_path / "responses.sqlite3", clock=clock)
    first.put(entry("resp_a"))
    first.close()
    again = ResponseStore(tmp_path / "responses.sqlite3", clock=clock)
    assert again.get("resp_a") == entry("resp_a")
    clock.now = 1_000.0 + again.ttl_s
    assert again.get("resp_a") is None  # the TTL is wall-clock time, so it runs across restarts too


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    ResponseStore(tmp_path / "responses.sqlite3").close()
    with sqlite3.connect(tmp_path / "responses.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _put_many(path: str, prefix: str) -> None:
    store = ResponseStore(Path(path))
    for number in range(50):
        store.put(entry(f"resp_{prefix}{number}"))
    store.close()


def test_processes_share_one_store(tmp_path: Path) -> None:
    """What ``--workers N`` needs: each worker process writes, every one reads what the others wrote."""
    path = tmp_path / "responses.sqlite3"
    ResponseStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_put_many, args=(str(path), prefix)) for prefix in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    store = ResponseStore(path)
    assert len(store) == 100
    assert store.get("resp_a7") == entry("resp_a7")
    assert store.get("resp_b49") == entry("resp_b49")


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


def test_item_references_become_the_stored_items() -> None:
    """What the Vercel AI SDK sends in its second step: the earlier reasoning by reference, the rest in full."""
    store = ResponseStore()
    first = parse_request({"model": "m", "input": "Weather in Paris?"})
    events = [ReasoningText("Ask the tool."), ToolCall(0, "call_1", "get_weather", '{"city":"Paris"}'),
              Finish("tool_calls", 10, 5)]  # fmt: skip
    response = render_response(events, ResponseMeta("resp_" + "ab" * 16, "m", first))
    remember(store, True, [], response)
    reasoning_id, call_id = (item["id"] for item in response["output"])
    second = parse_request(
        {"model": "m", "input": [
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "item_reference", "id": reasoning_id},
            {"type": "item_reference", "id": call_id},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ]}
    )  # fmt: skip
    resolved = resolve_references(store, second)
    assert isinstance(resolved.input, list)
    reasoning, call = resolved.input[1], resolved.input[2]
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.text() == "Ask the tool."
    assert isinstance(call, FunctionCallItem)
    assert (call.call_id, call.name) == ("call_1", "get_weather")
    messages = to_chat(resolved).messages
    assert messages[1]["reasoning_content"] == "Ask the tool."


@pytest.mark.parametrize("reference", ["rs_" + "cd" * 16 + "000", "rs_nope", "resp_" + "ab" * 16])
def test_an_unknown_item_reference_is_a_400_naming_it(reference: str) -> None:
    store = ResponseStore()
    remember(store, True, [], render_response([Finish("stop", 1, 0)], ResponseMeta("resp_" + "ab" * 16, "m",
             parse_request({"model": "m", "input": "x"}))))  # fmt: skip
    request = parse_request({"model": "m", "input": [{"type": "item_reference", "id": reference}]})
    with pytest.raises(APIError) as caught:
        resolve_references(store, request)
    assert (caught.value.status, caught.value.param) == (400, "input[0].id")
    assert reference in caught.value.message
