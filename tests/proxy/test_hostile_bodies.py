"""Hostile and broken requests answered in the API's own words, never a 5xx and never by waiting: lone surrogates,
deep nesting on /v1/responses, floods of tiny messages, an upstream known to be down, a backend that breaks its
promise of context logits, and what errors and /metrics tell a stranger (issue 35)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tokenizers import Tokenizer
from trtllm_nix.llm.model_files import ChatTemplate
from trtllm_nix.llm.triton_client import UpstreamTimeout, UpstreamUnavailable
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces, served_repository

CHAT = {"model": "qwen3", "max_tokens": 4}
TOOL = {"type": "function", "function": {"name": "f\ud800", "parameters": {"type": "object", "properties": {}}}}


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "param", "code"} <= set(body["error"])
    return dict(body["error"])


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps writes a lone surrogate as the escape "\ud800", as a hostile client would send it
    return client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "a\ud800"}]}, "messages.0.content"),
        (
            "/v1/chat/completions",
            {**CHAT, "stream": True, "messages": [{"role": "user", "content": "a\udc00b"}]},
            "messages.0.content",
        ),
        ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "x"}], "tools": [TOOL]}, None),
        ("/v1/completions", {**CHAT, "prompt": "a\ud800b"}, "prompt"),
        ("/v1/completions", {**CHAT, "prompt": ["ok", "a\ud800b"]}, "prompt.1"),
        ("/v1/responses", {"model": "qwen3", "input": "a\ud800b"}, "input"),
        ("/tokenize", {"model": "qwen3", "prompt": "a\ud800b"}, "prompt"),
    ],
    ids=["chat", "streamed chat", "tool name", "completions", "completions list", "responses", "tokenize"],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(
    assets: Assets, tokenizer: Tokenizer, path: str, body: dict[str, Any], param: str | None
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        error = _error(_post(client, path, body), 400)
        assert "surrogate" in error["message"]
        if param is not None:
            assert error["param"] == param
        else:
            assert error["param"] == "tools.0.function.name"
        assert upstream.requests == []
        pair = {**CHAT, "messages": [{"role": "user", "content": "#reply: ok \U0001f389"}]}
        assert _post(client, "/v1/chat/completions", pair).status_code == 200  # an escaped pair is fine


def test_a_deep_responses_input_is_a_400_like_chat(assets: Assets, tokenizer: Tokenizer) -> None:
    deep = '{"model": "qwen3", "input": ' + "[" * 10_000 + "]" * 10_000 + "}"
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: pieces(tokenizer, ["ok"])))) as client:
        response = client.post("/v1/responses", content=deep, headers={"Content-Type": "application/json"})
        assert _error(response, 400)["code"] == "invalid_json"


def test_more_messages_than_tokens_are_refused_before_rendering(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[int] = []
    original = ChatTemplate.render

    def counting(self: ChatTemplate, *args: Any, **kwargs: Any) -> str:
        rendered.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ChatTemplate, "render", counting)
    app = app_with(assets.tokenizer, FakeUpstream(lambda _: []), model_repository=served_repository(tmp_path, 16384))
    body = {**CHAT, "messages": [{"role": "user", "content": "x"}] * 30_000}
    with client_for(app) as client:
        error = _error(client.post("/v1/chat/completions", json=body), 400)
    assert error["code"] == "context_length_exceeded"
    assert error["param"] == "messages"
    assert "30000 messages" in error["message"]
    assert rendered == []


@dataclass
class _Down(FakeUpstream):
    """An upstream whose readiness checks say none is ready (a Triton down or hung)."""

    def any_ready(self) -> bool:
        return False


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/responses"])
def test_no_ready_upstream_is_a_503_at_once(assets: Assets, path: str, stream: bool) -> None:
    upstream = _Down(lambda _: [])
    body: dict[str, Any] = {"model": "qwen3", "stream": stream}
    body |= {"messages": [{"role": "user", "content": "hi"}]} if "chat" in path else {}
    body |= {"prompt": "hi"} if path == "/v1/completions" else {}
    body |= {"input": "hi"} if "responses" in path else {}
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        error = _error(client.post(path, json=body), 503)
    assert error["code"] == "upstream_unavailable"
    assert upstream.requests == []


def _with_context_logits(folder: Path) -> Path:
    served_repository(folder, 4096)
    engine = {"max_seq_len": 4096, "gather_context_logits": True, "gather_generation_logits": True}
    manifest = {"format": 1, "engine": engine}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_backend_without_its_promised_context_logits_is_an_upstream_error(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    app = app_with(assets.tokenizer, upstream, model_repository=_with_context_logits(tmp_path))
    with client_for(app) as client:
        response = client.post("/v1/completions", json={**CHAT, "prompt": "e", "echo": True, "logprobs": 1})
    error = _error(response, 502)
    assert error["type"] == "upstream_error"
    assert "context logits" in error["message"]


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (UpstreamUnavailable("Triton at 10.20.30.40:8001 is not reachable: ipv4:10.20.30.40:8001 refused"), 503),
        (UpstreamTimeout("Triton at 10.20.30.40:8001 did not finish within 600 s"), 504),
    ],
)
def test_upstream_failures_do_not_name_the_upstream(
    assets: Assets, failure: Exception, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: [failure]))) as client:
        response = client.post("/v1/chat/completions", json={**CHAT, "messages": [{"role": "user", "content": "x"}]})
    error = _error(response, status)
    assert "10.20.30.40" not in response.text
    assert "Triton" not in error["message"]
    assert any("10.20.30.40" in record.getMessage() for record in caplog.records)  # the log keeps the detail


@pytest.mark.parametrize(
    ("api_key", "public", "anonymous", "keyed"),
    [(None, False, 200, 200), ("sesame", False, 401, 200), ("sesame", True, 200, 200)],
    ids=["no key", "behind the key", "public"],
)
def test_metrics_are_behind_the_key_unless_public(
    assets: Assets, api_key: str | None, public: bool, anonymous: int, keyed: int
) -> None:
    app = app_with(assets.tokenizer, FakeUpstream(lambda _: []), api_key=api_key, public_metrics=public)
    with client_for(app) as client:
        assert client.get("/metrics").status_code == anonymous
        assert client.get("/metrics", headers={"Authorization": "Bearer sesame"}).status_code == keyed
        if anonymous == 401:
            assert client.get("/metrics").json()["error"]["code"] == "invalid_api_key"


def test_the_messages_api_refuses_a_lone_surrogate_and_fails_fast_in_its_own_envelope(
    assets: Assets, tokenizer: Tokenizer
) -> None:
    body = {"model": "qwen3", "max_tokens": 4, "messages": [{"role": "user", "content": "a\ud800"}]}
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: pieces(tokenizer, ["ok"])))) as client:
        refused = _post(client, "/v1/messages", body)
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert "surrogate" in refused.json()["error"]["message"]
    plain = {**body, "messages": [{"role": "user", "content": "hi"}]}
    with client_for(app_with(assets.tokenizer, _Down(lambda _: []))) as client:
        down = _post(client, "/v1/messages", plain)
    assert down.status_code == 503
    assert down.json()["type"] == "error"
