"""Errors of /v1/responses name its own fields (text.format), chosen where the error is made, never by rewriting the
chat path's words: a schema's own property named ``response_format`` stays as the client wrote it."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces, served_repository


def test_a_refused_schema_names_text_format_and_keeps_the_clients_words(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["{}"]))
    schema = {"type": "object", "properties": {"response_format": {"type": "number", "minimum": 0}}}
    body = {
        "model": "qwen3",
        "input": "x",
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": schema}},
    }
    repository = served_repository(tmp_path, 4096, guided=True)
    with client_for(app_with(assets.tokenizer, upstream, model_repository=repository)) as client:
        response = client.post("/v1/responses", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "text.format"
    assert "schema.properties.response_format uses 'minimum'" in error["message"]
    assert upstream.requests == []


def test_a_model_without_guided_decoding_names_text_format(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["{}"]))
    body = {"model": "qwen3", "input": "x", "text": {"format": {"type": "json_object"}}}
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post("/v1/responses", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "text.format"
    assert error["message"].startswith("text.format needs guided decoding")


def test_an_answer_longer_than_the_room_names_max_output_tokens(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["x"]))
    body = {"model": "qwen3", "input": "x", "max_output_tokens": 10**6}
    with client_for(app_with(assets.tokenizer, upstream, max_model_len=4096)) as client:
        response = client.post("/v1/responses", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "max_output_tokens"
    assert error["code"] == "context_length_exceeded"
    assert upstream.requests == []
