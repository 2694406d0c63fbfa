"""The sampling extensions vLLM and SGLang accept (and SMG adds to every ``/v1/responses`` body), on Responses as on
chat: honoured where TensorRT-LLM's Triton model can honour them, refused by name where it cannot, never ignored."""

from __future__ import annotations

from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces

SMG_BODY = {"input": "#reply: r", "max_output_tokens": 8, "model": "qwen3", "store": True, "temperature": 1.0,
            "priority": 0, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0}  # fmt: skip


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_what_smg_sends_on_responses_is_served(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["r"]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post("/v1/responses", json=SMG_BODY)
    assert response.status_code == 200, response.text
    sent = upstream.requests[0]
    assert (sent.top_k, sent.repetition_penalty) == (0, 1.0)  # -1: no top-k, as SGLang means it


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/completions"])
def test_the_extensions_the_backend_has_reach_it(assets: Assets, tokenizer: Tokenizer, path: str) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["r"]))
    fields = {"top_k": 20, "repetition_penalty": 1.1, "presence_penalty": 0.5, "frequency_penalty": 0.25,
              "seed": 42, "min_p": 0.0, "priority": 0, "temperature": 0.7}  # fmt: skip
    body = {"model": "qwen3", "input": "hi", **fields} if path == "/v1/responses" else _chat(**fields)
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    sent = upstream.requests[0]
    assert (sent.top_k, sent.seed) == (20, 42)
    assert (sent.repetition_penalty, sent.presence_penalty, sent.frequency_penalty) == pytest.approx((1.1, 0.5, 0.25))


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/completions", "/v1/completions"])
@pytest.mark.parametrize(("field", "value", "words"), [("min_p", 0.05, "min_p"), ("priority", 1, "priority")])
def test_what_the_backend_cannot_honour_is_refused_by_name(
    assets: Assets, tokenizer: Tokenizer, path: str, field: str, value: object, words: str
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["r"]))
    body = {
        "/v1/responses": {"model": "qwen3", "input": "hi"},
        "/v1/chat/completions": _chat(),
        "/v1/completions": {"model": "qwen3", "prompt": "hi"},
    }[path] | {field: value}
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == field
    assert words in error["message"]
    assert upstream.requests == []
