"""The request lifecycle with a fake upstream: failures that are not Triton's, request ids, admission."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix.llm.triton_client import UpstreamRequest
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, Script, app_with, client_for, pieces


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_a_bug_mid_stream_ends_with_an_error_event_and_done(assets: Assets, tokenizer: Tokenizer) -> None:
    def script(_: UpstreamRequest) -> Script:
        return [*pieces(tokenizer, ["one", " two"])[:-1], RuntimeError("boom")]

    with client_for(app_with(assets.tokenizer, FakeUpstream(script))) as client:
        response = client.post("/v1/chat/completions", json=_chat(stream=True))
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["code"] == "internal_error"
    assert response.headers["x-request-id"] in error["message"]
    assert "".join(json.loads(d)["choices"][0]["delta"].get("content", "") for d in data[:-2]) == "one two"


def test_a_bug_before_the_answer_is_a_json_500_with_the_request_id(
    assets: Assets, tokenizer: Tokenizer, caplog: pytest.LogCaptureFixture
) -> None:
    def script(_: UpstreamRequest) -> Script:
        return [RuntimeError("boom")]

    with client_for(app_with(assets.tokenizer, FakeUpstream(script))) as client, caplog.at_level(logging.ERROR):
        response = client.post("/v1/chat/completions", json=_chat(), headers={"X-Request-Id": "req-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["error"]["type"] == "server_error"
    assert any("req-42" in record.getMessage() for record in caplog.records)


def test_the_request_id_is_sent_upstream(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        client.post("/v1/chat/completions", json=_chat(), headers={"X-Request-Id": "trace-7"})
        client.post("/v1/completions", json={"model": "qwen3", "prompt": "x", "stream": True})
    assert upstream.requests[0].request_id == "trace-7"
    assert len(upstream.requests[1].request_id) == 32


def test_405_keeps_its_allow_header(assets: Assets, tokenizer: Tokenizer) -> None:
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: []))) as client:
        response = client.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["message"]
