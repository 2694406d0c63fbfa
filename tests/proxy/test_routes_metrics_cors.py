"""Every route the proxy serves has its own metrics label, and a browser may use every method the API has (a
``DELETE /v1/responses/{id}`` from a web UI needs the CORS preflight to allow it)."""

from __future__ import annotations

from tokenizers import Tokenizer
from trtllm_nix.proxy.middleware import endpoint_label
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces


def test_each_served_route_has_its_own_label() -> None:
    for path in ("/v1/responses", "/tokenize", "/detokenize", "/v1/chat/completions"):
        assert endpoint_label(path) == path
    assert endpoint_label("/v1/responses/resp_123") == "/v1/responses/{id}"
    assert endpoint_label("/nope") == "other"


def test_requests_are_counted_under_their_route(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        created = client.post("/v1/responses", json={"model": "qwen3", "input": "hi"})
        client.get(f"/v1/responses/{created.json()['id']}")
        client.post("/tokenize", json={"model": "qwen3", "prompt": "hi"})
        metrics = client.get("/metrics").text
    assert 'endpoint="/v1/responses",status="200"' in metrics
    assert 'endpoint="/v1/responses/{id}",status="200"' in metrics
    assert 'endpoint="/tokenize",status="200"' in metrics


def test_cors_preflight_allows_delete(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    with client_for(app_with(assets.tokenizer, upstream, cors_origins=("http://ui.example",))) as client:
        preflight = client.options(
            "/v1/responses/resp_1",
            headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "DELETE"},
        )
    assert preflight.status_code == 200, preflight.text
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
