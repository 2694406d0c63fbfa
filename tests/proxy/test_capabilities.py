"""The proxy's checks read the backend's declared capabilities (``llm.backend.Capabilities``), never which lane
serves the model: a backend that declares a feature gets requests that use it, one that lacks it a 400 quoting why."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from fastapi import FastAPI
from tokenizers import Tokenizer
from trtllm_nix.llm.backend import Capabilities
from trtllm_nix.llm.generation import TokenStreamBackend
from trtllm_nix.llm.upstream_types import UpstreamChunk, UpstreamRequest
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, Script, app_with, client_for, pieces

CHAT = {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}]}


def declaring(app: FastAPI, capabilities: Capabilities) -> FastAPI:
    """``app`` with its model's backend declaring ``capabilities`` (over the same source)."""
    model = app.state.proxy.models.get("qwen3")
    backend = model.backend
    assert isinstance(backend, TokenStreamBackend)
    model.backend = replace(backend, capabilities=capabilities)
    return app


def test_a_declared_min_p_is_passed_on_and_an_undeclared_one_quotes_the_backend(
    assets: Assets, tokenizer: Tokenizer
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    refusing = Capabilities(missing={"min_p": "this backend samples no min-p"})
    with client_for(declaring(app_with(assets.tokenizer, upstream), refusing)) as client:
        refused = client.post("/v1/chat/completions", json={**CHAT, "min_p": 0.1})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"].startswith("min_p 0.1: this backend samples no min-p;")
    with client_for(declaring(app_with(assets.tokenizer, upstream), Capabilities(min_p=True))) as client:
        taken = client.post("/v1/chat/completions", json={**CHAT, "min_p": 0.1})
    assert taken.status_code == 200, taken.text
    assert len(upstream.requests) == 1


def test_prompt_scoring_follows_the_declaration_not_the_lane(assets: Assets, tokenizer: Tokenizer) -> None:
    vocabulary = tokenizer.get_vocab_size(with_added_tokens=True)

    def script(request: UpstreamRequest) -> Script:
        logits = np.zeros((len(request.input_ids), vocabulary), dtype=np.float32)
        return [UpstreamChunk([], [], True, context_logits=logits)]

    body = {"model": "qwen3", "prompt": "a b", "max_tokens": 1, "echo": True, "logprobs": 0}
    scoring = Capabilities(prompt_scoring=True)
    with client_for(declaring(app_with(assets.tokenizer, FakeUpstream(script)), scoring)) as client:
        scored = client.post("/v1/completions", json=body)
    assert scored.status_code == 200, scored.text
    assert scored.json()["choices"][0]["logprobs"]["token_logprobs"][0] is None  # the first prompt token
    blind = Capabilities(missing={"prompt_scoring": "logits that {model}'s backend never returns"})
    with client_for(declaring(app_with(assets.tokenizer, FakeUpstream(script)), blind)) as client:
        refused = client.post("/v1/completions", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"] == (
        "echo with logprobs scores the prompt, which needs logits that 'qwen3''s backend never returns"
    )


def test_a_guide_kind_the_backend_does_not_enforce_is_refused(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["abc"]))
    json_only = Capabilities(guided=frozenset({"json", "json_schema"}))
    with client_for(declaring(app_with(assets.tokenizer, upstream), json_only)) as client:
        response = client.post("/v1/chat/completions", json={**CHAT, "guided_regex": "[a-z]+"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "guided_regex"
    assert "enforces json, json_schema" in error["message"]
    assert upstream.requests == []


def test_several_choices_and_logprobs_follow_the_declaration(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    single = Capabilities(choices=False, logprobs=False)
    with client_for(declaring(app_with(assets.tokenizer, upstream), single)) as client:
        several = client.post("/v1/chat/completions", json={**CHAT, "n": 2})
        scored = client.post("/v1/completions", json={"model": "qwen3", "prompt": "a", "logprobs": 0})
        one = client.post("/v1/chat/completions", json=CHAT)
    assert several.status_code == 400, several.text
    assert several.json()["error"]["param"] == "n"
    assert scored.status_code == 400, scored.text
    assert scored.json()["error"]["param"] == "logprobs"
    assert one.status_code == 200, one.text
    assert len(upstream.requests) == 1
