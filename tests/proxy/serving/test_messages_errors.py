"""Refusals of ``/v1/messages`` name the Messages API's own fields, where they are made (the request reaches the
chat path's preparation step as typed values, never as a re-validated chat request whose errors are reworded):
Anthropic's envelope has no ``param``, so its message starts with the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces, served_repository

UNENFORCED: Any = {"type": "object", "not": {"required": ["x"]}}  # xgrammar does not enforce "not"
ASK: Any = {"model": "qwen3", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def _refusal(assets: Assets, tokenizer: Tokenizer, tmp_path: Path, body: dict[str, Any]) -> str:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["{}"]))
    repository = served_repository(tmp_path, 4096, guided=True)
    with client_for(app_with(assets.tokenizer, upstream, model_repository=repository)) as client:
        response = client.post("/v1/messages", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error"
    assert upstream.requests == []
    message: str = response.json()["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        # the forced tool's schema is its input_schema (the chat API's name is "parameters")
        ({"tools": [{"name": "Read", "input_schema": UNENFORCED}], "tool_choice": {"type": "any"}},
         "tools[Read].input_schema: "),
        ({"output_config": {"format": {"type": "json_schema", "schema": UNENFORCED}}}, "output_config.format: "),
        ({"output_format": {"type": "json_schema", "schema": UNENFORCED}}, "output_format: "),  # the beta's name
        ({"top_k": 2**31}, "top_k: "),  # beyond its int32 tensor (was "messages cannot be rendered as a chat")
    ],
)  # fmt: skip
def test_a_refusal_names_the_field_the_client_sent(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path, fields: dict[str, Any], named: str
) -> None:
    message = _refusal(assets, tokenizer, tmp_path, {**ASK, **fields})
    assert message.startswith(named), message
    assert "parameters" not in message
    assert "response_format" not in message


def test_a_prompt_that_does_not_fit_is_anthropics_prompt_is_too_long(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    """Claude Code compacts its conversation on these words: ``N tokens > M maximum`` (M: the most prompt tokens
    that leave room for one answer token) when the prompt was counted, the reason otherwise."""
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["{}"]))
    repository = served_repository(tmp_path, 32)
    many = [{"role": "user" if i % 2 == 0 else "assistant", "content": "x"} for i in range(33)]
    with client_for(app_with(assets.tokenizer, upstream, model_repository=repository)) as client:
        long = client.post("/v1/messages", json={**ASK, "messages": [{"role": "user", "content": "word " * 40}]})
        counted = client.post("/v1/messages/count_tokens", json={"model": "qwen3", "messages": many[:1]})
        crowded = client.post("/v1/messages", json={**ASK, "messages": many})
    assert long.status_code == 400
    assert long.json()["error"]["message"].startswith("prompt is too long: ")
    assert " tokens > 31 maximum (the prompt has " in long.json()["error"]["message"]
    assert counted.status_code == 200
    assert crowded.json()["error"]["message"].startswith("prompt is too long: 33 messages cannot fit")
    assert upstream.requests == []
