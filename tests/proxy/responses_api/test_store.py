"""The response store, against both backends (SQLite in the state directory, PostgreSQL for several hosts): every
worker and every proxy sharing it sees every stored response, bounded by bytes and age, kept across restarts;
OpenAI's 404 for an id it does not hold."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from openai.types.responses import Response
from trtllm_nix.errors import SetupError, UserError
from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.output_events import ContentText, ReasoningText, ToolCall
from trtllm_nix.proxy.responses_api.protocol import FunctionCallItem, ReasoningItem, parse_request
from trtllm_nix.proxy.responses_api.render import ResponseMeta, render_response
from trtllm_nix.proxy.responses_api.store import (
    FILE_NAME,
    PostgresStore,
    ResponseStore,
    SQLiteStore,
    StoredResponse,
    delete_response,
    get_response,
    open_store,
    previous_conversation,
    redacted,
    remember,
    resolve_references,
)
from trtllm_nix.proxy.responses_api.translate import conversation_of, to_chat
from trtllm_nix.proxy.settings import ProxySettings

from tests.postgres import PostgresServer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


_databases = itertools.count()


@dataclass
class Backend:
    """One store location (a SQLite file, a PostgreSQL database); ``open`` connects one more store to it."""

    name: str
    location: str | None  # the PostgreSQL URL; None: SQLite
    state_dir: Path
    opened: list[ResponseStore] = field(default_factory=list)

    def open(
        self, max_bytes: int = 256 << 20, ttl_s: float = 86_400.0, clock: Callable[[], float] | None = None
    ) -> ResponseStore:
        store: ResponseStore
        if self.location is not None:
            store = PostgresStore(self.location, max_bytes=max_bytes, ttl_s=ttl_s, clock=clock or Clock())
        else:
            store = SQLiteStore(self.state_dir / FILE_NAME, max_bytes=max_bytes, ttl_s=ttl_s, clock=clock or Clock())
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        made = Backend("sqlite", None, tmp_path)
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        made = Backend("postgresql", server.create_database(f"store_{next(_databases)}"), tmp_path)
    yield made
    for store in made.opened:
        store.close()


def entry(response_id: str) -> StoredResponse:
    return StoredResponse({"id": response_id, "output": []}, [])


def test_entries_expire_after_the_ttl(backend: Backend) -> None:
    clock = Clock()
    store = backend.open(ttl_s=10, clock=clock)
    store.put(entry("resp_a"))
    clock.now = 9.9
    assert store.get("resp_a") is not None
    clock.now = 10.0
    assert store.get("resp_a") is None
    assert len(store) == 0


def sized(response_id: str, size: int) -> StoredResponse:
    """An entry whose stored JSON is about ``size`` bytes."""
    return StoredResponse({"id": response_id, "output": [], "pad": "x" * size}, [])


def test_the_oldest_entries_go_when_the_store_is_over_its_bytes(backend: Backend) -> None:
    store = backend.open(max_bytes=25_000)
    for name in ("resp_a", "resp_b", "resp_c"):
        store.put(sized(name, 10_000))
    assert [store.get(name) is not None for name in ("resp_a", "resp_b", "resp_c")] == [False, True, True]
    assert 20_000 <= store.bytes() <= 25_000


def test_an_entry_larger_than_the_whole_store_is_not_kept(backend: Backend) -> None:
    store = backend.open(max_bytes=5_000)
    store.put(sized("resp_small", 100))
    store.put(sized("resp_huge", 10_000))
    assert store.get("resp_huge") is None
    assert store.get("resp_small") is not None  # a response too big to keep pushes nothing else out


def test_storing_an_id_again_replaces_it(backend: Backend) -> None:
    store = backend.open()
    store.put(sized("resp_a", 10))
    store.put(entry("resp_a"))
    assert (store.get("resp_a"), len(store)) == (entry("resp_a"), 1)


def test_entries_survive_a_restart(backend: Backend) -> None:
    clock = Clock()
    clock.now = 1_000.0
    first = backend.open(clock=clock)
    first.put(entry("resp_a"))
    first.close()
    again = backend.open(clock=clock)
    assert again.get("resp_a") == entry("resp_a")
    clock.now = 1_000.0 + again.ttl_s
    assert again.get("resp_a") is None  # the TTL is wall-clock time, so it runs across restarts too


def test_two_stores_on_one_location_see_each_others_writes(backend: Backend) -> None:
    """Two proxies (or workers) on one database: what one stores or deletes, the other sees at once."""
    one, two = backend.open(), backend.open()
    one.put(entry("resp_a"))
    assert two.get("resp_a") == entry("resp_a")
    assert two.delete("resp_a") is True
    assert one.get("resp_a") is None
    assert one.delete("resp_a") is False


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "responses.sqlite3").close()
    with sqlite3.connect(tmp_path / "responses.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _put_many(location: str | None, state_dir: str, prefix: str) -> None:
    store = open_store(location, Path(state_dir))
    for number in range(50):
        store.put(entry(f"resp_{prefix}{number}"))
    store.close()


def test_processes_share_one_store(backend: Backend) -> None:
    """What ``--workers N`` (or N proxies) need: each process writes, every one reads what the others wrote."""
    backend.open().close()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_put_many, args=(backend.location, str(backend.state_dir), prefix)) for prefix in "ab"
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    store = open_store(backend.location, backend.state_dir)
    backend.opened.append(store)
    assert len(store) == 100
    assert store.get("resp_a7") == entry("resp_a7")
    assert store.get("resp_b49") == entry("resp_b49")


def test_a_postgresql_store_survives_the_server_restarting(postgres: PostgresServer) -> None:
    """The connection breaks when the server restarts: the next call connects again and finds the data."""
    url = postgres.create_database(f"store_{next(_databases)}")
    store = PostgresStore(url)
    try:
        store.put(entry("resp_a"))
        postgres.restart()
        assert store.get("resp_a") == entry("resp_a")
        store.put(entry("resp_b"))
        assert len(store) == 2
    finally:
        store.close()


def test_an_unreachable_postgresql_is_a_one_line_start_error(postgres: PostgresServer) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{postgres.port}/no_such_database"
    with pytest.raises(SetupError) as caught:
        PostgresStore(url, connect_timeout_s=5)
    message = str(caught.value)
    assert "\n" not in message
    assert "no_such_database" in message
    assert "s3cret" not in message  # the password never reaches a log


def test_a_missing_driver_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(SetupError, match=r"needs the psycopg driver: pip install 'trtllm-nix\[postgresql\]'"):
        PostgresStore("postgresql://u@127.0.0.1:1/db")


def test_the_store_url_must_be_postgresql() -> None:
    with pytest.raises(UserError, match="--responses-store must be a PostgreSQL URL"):
        ProxySettings(tokenizer=Path("t"), responses_store="sqlite:///x.db")
    shared = ProxySettings(tokenizer=Path("t"), responses_store="postgresql://u:pw@db/x", workers=2)
    assert "pw" not in repr(shared)  # --workers above 1 is fine: the database is shared


def test_passwords_are_redacted() -> None:
    assert redacted("postgresql://u:pw@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert redacted("postgresql://u@db/x") == "postgresql://u@db/x"


def test_unknown_ids_get_openais_404() -> None:
    store = SQLiteStore()
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
    store = SQLiteStore()
    store.put(entry("resp_a"))
    assert get_response(store, "resp_a")["id"] == "resp_a"
    assert delete_response(store, "resp_a") == {"id": "resp_a", "object": "response.deleted", "deleted": True}
    with pytest.raises(APIError):
        get_response(store, "resp_a")


def test_a_second_turn_continues_the_first_with_its_output() -> None:
    store = SQLiteStore()
    first = parse_request({"model": "m", "input": "Weather in Paris?", "instructions": "Use tools."})
    events = [
        ReasoningText("Ask the tool."),
        ContentText("Let me check."),
        ToolCall(0, "call_1", "get_weather", '{"city":"Paris"}'),
        Finish("stop", 10, 5),
    ]
    response = render_response(events, ResponseMeta("resp_1", "m", first))
    Response.model_validate(response)
    remember(store, first.store, conversation_of(first), response)
    assert json.loads(json.dumps(get_response(store, "resp_1"))) == response

    second = parse_request(
        {"model": "m", "previous_response_id": "resp_1",
         "input": [{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]}
    )  # fmt: skip
    previous = previous_conversation(store, second.previous_response_id)
    messages = to_chat(second, conversation_of(second, previous)).messages
    assert messages == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "reasoning_content": "Ask the tool.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]  # fmt: skip


def test_store_false_keeps_nothing() -> None:
    store = SQLiteStore()
    request = parse_request({"model": "m", "input": "x", "store": False})
    remember(store, request.store, [], render_response([Finish("stop", 1, 0)], ResponseMeta("resp_x", "m", request)))
    assert len(store) == 0


def test_item_references_become_the_stored_items() -> None:
    """What the Vercel AI SDK sends in its second step: the earlier reasoning by reference, the rest in full."""
    store = SQLiteStore()
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
    messages = to_chat(resolved, conversation_of(resolved)).messages
    assert messages[1]["reasoning_content"] == "Ask the tool."


@pytest.mark.parametrize("reference", ["rs_" + "cd" * 16 + "000", "rs_nope", "resp_" + "ab" * 16])
def test_an_unknown_item_reference_is_a_400_naming_it(reference: str) -> None:
    store = SQLiteStore()
    remember(store, True, [], render_response([Finish("stop", 1, 0)], ResponseMeta("resp_" + "ab" * 16, "m",
             parse_request({"model": "m", "input": "x"}))))  # fmt: skip
    request = parse_request({"model": "m", "input": [{"type": "item_reference", "id": reference}]})
    with pytest.raises(APIError) as caught:
        resolve_references(store, request)
    assert (caught.value.status, caught.value.param) == (400, "input[0].id")
    assert reference in caught.value.message
