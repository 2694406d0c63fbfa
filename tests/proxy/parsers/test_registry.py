"""Reasoning and tool-call parsers are chosen independently (as vLLM's --reasoning-parser and --tool-call-parser),
by name from their registries; the fake upstream stands for Triton."""

from __future__ import annotations

from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix.assets.build import Assets
from trtllm_nix.errors import UserError
from trtllm_nix.proxy.parsers.registry import REASONING_PARSERS, TOOL_PARSERS
from trtllm_nix.proxy.settings import ProxySettings, add_arguments, from_namespace

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_the_registries_name_their_parsers() -> None:
    assert set(REASONING_PARSERS) == {"qwen3"}
    assert set(TOOL_PARSERS) == {"hermes"}


def test_tool_calls_parsed_with_reasoning_off(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["<think>plan</think>", CALL]))
    app = app_with(assets.tokenizer, upstream, reasoning_parser="none", tool_call_parser="hermes")
    with client_for(app) as client:
        message = client.post("/v1/chat/completions", json=_chat(tools=TOOLS)).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert message["content"] == "<think>plan</think>"
    assert "reasoning_content" not in message or message["reasoning_content"] is None


def test_no_tool_parser_refuses_tools_naming_the_flag(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["<think>plan</think>", "done"]))
    app = app_with(assets.tokenizer, upstream, tool_call_parser="none")
    with client_for(app) as client:
        refused = client.post("/v1/chat/completions", json=_chat(tools=TOOLS))
        plain = client.post("/v1/chat/completions", json=_chat()).json()["choices"][0]["message"]
    assert refused.status_code == 400
    assert "--tool-call-parser" in refused.json()["error"]["message"]
    assert refused.json()["error"]["param"] == "tools"
    assert plain["reasoning_content"] == "plan"  # the reasoning parser still runs
    assert plain["content"] == "done"


def test_an_unknown_tool_parser_is_one_line(assets: Assets) -> None:
    with pytest.raises(UserError, match="--tool-call-parser must be auto, hermes or none"):
        ProxySettings(tokenizer=assets.tokenizer, tool_call_parser="mistral")


def test_the_tool_parser_from_flag_and_environment(assets: Assets) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flagged = parser.parse_args(["--tokenizer", str(assets.tokenizer), "--tool-call-parser", "none"])
    assert from_namespace(flagged, {}).tool_call_parser == "none"
    plain = parser.parse_args(["--tokenizer", str(assets.tokenizer)])
    assert from_namespace(plain, {"TRTLLM_NIX_PROXY_TOOL_CALL_PARSER": "hermes"}).tool_call_parser == "hermes"
    assert from_namespace(plain, {}).tool_call_parser == "auto"
