"""Stored responses seen by every worker: two apps over one state directory stand for ``--workers 2`` (or two
proxies behind a gateway), a third for the proxy after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.postgres import PostgresServer
from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces


def test_another_worker_and_a_restarted_proxy_see_a_stored_response(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["Paris."]))
    first, second = (app_with(assets.tokenizer, upstream, state_dir=tmp_path) for _ in range(2))
    with client_for(first) as one:
        created = one.post("/v1/responses", json={"model": "qwen3", "input": "Capital of France?"})
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    assert (tmp_path / "responses.sqlite3").is_file()

    with client_for(second) as two:
        assert two.get(f"/v1/responses/{response_id}").json() == created.json()
        follow_up = two.post(
            "/v1/responses", json={"model": "qwen3", "input": "And Italy?", "previous_response_id": response_id}
        )
    assert follow_up.status_code == 200, follow_up.text
    prompt = tokenizer.decode(upstream.requests[-1].input_ids)
    assert "Capital of France?" in prompt
    assert "Paris." in prompt

    with client_for(app_with(assets.tokenizer, upstream, state_dir=tmp_path)) as restarted:
        assert restarted.get(f"/v1/responses/{response_id}").status_code == 200
        assert restarted.delete(f"/v1/responses/{response_id}").json()["deleted"] is True
    with client_for(first) as one:
        assert one.get(f"/v1/responses/{response_id}").status_code == 404


def test_proxies_on_one_postgresql_store_continue_each_others_conversations(
    assets: Assets, tokenizer: Tokenizer, postgres: PostgresServer, tmp_path: Path
) -> None:
    """Two proxies on different hosts (no shared state directory) behind a gateway: ``--responses-store URL``."""
    url = postgres.create_database("shared_store_apps")
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["Paris."]))
    first, second = (
        app_with(assets.tokenizer, upstream, state_dir=tmp_path / name, responses_store=url) for name in "ab"
    )
    try:
        with client_for(first) as one:
            created = one.post("/v1/responses", json={"model": "qwen3", "input": "Capital of France?"})
        assert created.status_code == 200, created.text
        assert not (tmp_path / "a" / "responses.sqlite3").exists()  # nothing in the state directory
        with client_for(second) as two:
            follow_up = two.post(
                "/v1/responses",
                json={"model": "qwen3", "input": "And Italy?", "previous_response_id": created.json()["id"]},
            )
            assert follow_up.status_code == 200, follow_up.text
            assert "Capital of France?" in tokenizer.decode(upstream.requests[-1].input_ids)
            assert two.delete(f"/v1/responses/{created.json()['id']}").json()["deleted"] is True
        with client_for(first) as one:
            assert one.get(f"/v1/responses/{created.json()['id']}").status_code == 404
    finally:
        for app in (first, second):
            app.state.proxy.responses.close()


def test_a_lost_postgresql_store_is_a_503_in_the_apis_shape(
    assets: Assets, tokenizer: Tokenizer, postgres: PostgresServer
) -> None:
    """The database going away mid-run is the server's trouble, said as such: 503, not a 500 or a 404."""
    url = postgres.create_database("lost_store_apps")
    app = app_with(assets.tokenizer, FakeUpstream(lambda _: pieces(tokenizer, ["Paris."])), responses_store=url)
    try:
        with postgres.connect() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'lost_store_apps'")
            admin.execute("ALTER DATABASE lost_store_apps WITH ALLOW_CONNECTIONS false")
        with client_for(app) as client:
            lost = client.get("/v1/responses/resp_" + "0" * 32)
        assert lost.status_code == 503
        error = lost.json()["error"]
        assert (error["type"], error["code"]) == ("service_unavailable", "responses_store_unavailable")
        assert "lost_store_apps" in error["message"]
    finally:
        app.state.proxy.responses.close()


def test_an_item_reference_to_stored_reasoning_is_served(assets: Assets, tokenizer: Tokenizer) -> None:
    """The Vercel AI SDK's second tool step (its default provider) sends the first step's reasoning by reference."""
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["<think>\nponder\n</think>\n\n", "Sunny."]))
    weather = {"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {}}}
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        first = client.post("/v1/responses", json={"model": "qwen3", "input": "Weather?", "tools": [weather]})
        reasoning = next(item for item in first.json()["output"] if item["type"] == "reasoning")
        second = client.post(
            "/v1/responses",
            json={"model": "qwen3", "tools": [weather], "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "item_reference", "id": reasoning["id"]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            ]},
        )  # fmt: skip
        unknown = client.post(
            "/v1/responses",
            json={"model": "qwen3", "input": [{"type": "item_reference", "id": "rs_" + "0" * 35}]},
        )
    assert second.status_code == 200, second.text
    assert "ponder" in tokenizer.decode(upstream.requests[-1].input_ids)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "input[0].id"


def test_a_client_leaving_a_non_streamed_response_cancels_its_generation(assets: Assets, tokenizer: Tokenizer) -> None:
    """The generation is closed when the client leaves, on the Responses path as on chat. (It passed before the
    explicit close too: the cancellation unwinds the generators; the close makes it not depend on that.)"""
    started = asyncio.Event()

    def script(_: object) -> list[object]:
        started.set()  # the generation runs: the client leaves now
        return pieces(tokenizer, ["word"] * 10_000)  # type: ignore[return-value]

    upstream = FakeUpstream(script, gap=0.01)  # type: ignore[arg-type]
    app = app_with(assets.tokenizer, upstream)

    async def run() -> None:
        body = b'{"model": "qwen3", "input": "hi"}'
        sent = False

        async def receive() -> dict[str, object]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await started.wait()  # the client leaves once the generation runs
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            pass

        scope = {"type": "http", "method": "POST", "path": "/v1/responses", "raw_path": b"/v1/responses",
                 "query_string": b"", "headers": [(b"content-type", b"application/json")], "http_version": "1.1",
                 "scheme": "http", "server": ("proxy", 80), "client": ("c", 1), "root_path": ""}  # fmt: skip

        await asyncio.wait_for(app(scope, receive, send), 30)
        # closed by the handler, not later by the garbage collector
        assert upstream.endings == ["cancelled"]

    asyncio.run(run())
