"""Bounds on structured-output guides, checked before compiling: a deep or large schema is a 400 naming the limit
at once (a depth-300 schema of 15 KB took 17.6 s to compile before, and held every other stream)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.guide_limits import MAX_GUIDE_CHARS, MAX_GUIDE_DEPTH, MAX_GUIDE_VALUES, guide_bound_exceeded
from trtllm_nix.proxy.structured import StructuredOutputError, guided_decoding_for
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces, served_repository


def nested_schema(levels: int, name: str = "a") -> dict[str, Any]:
    """``levels`` objects, each the only property of the one around it (2 levels of JSON nesting each)."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {name: schema}, "required": [name]}
    return schema


def wide_schema(properties: int) -> dict[str, Any]:
    names = [f"p{i}" for i in range(properties)]
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}, "required": names}


def _response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}


def test_the_bounds_measure_depth_values_and_size() -> None:
    assert guide_bound_exceeded(json.dumps(nested_schema(20)), nested_schema(20)) is None
    deep = nested_schema(MAX_GUIDE_DEPTH)
    assert f"{MAX_GUIDE_DEPTH} levels" in (guide_bound_exceeded(json.dumps(deep), deep) or "")
    wide = wide_schema(MAX_GUIDE_VALUES // 2)
    assert f"{MAX_GUIDE_VALUES} JSON values" in (guide_bound_exceeded("{}", wide) or "")
    assert f"{MAX_GUIDE_CHARS}" in (guide_bound_exceeded("a" * (MAX_GUIDE_CHARS + 1)) or "")
    assert guide_bound_exceeded("[a-z]+") is None


def test_a_deep_list_is_measured_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert guide_bound_exceeded("[]", deep) is not None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_response_format(nested_schema(300)), "response_format"),
        ({"guided_json": nested_schema(200)}, "guided_json"),
        ({"guided_regex": "a" * (MAX_GUIDE_CHARS + 1)}, "guided_regex"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": nested_schema(200)}}],
                "tool_choice": "required",
            },
            "tools",
        ),
    ],
    ids=["response_format depth 300", "guided_json depth 200", "regex too long", "forced tool depth 200"],
)
def test_a_guide_past_a_bound_is_refused_without_compiling(body: dict[str, Any], param: str) -> None:
    guided_decoding_for({"guided_regex": "[a-z]"})  # xgrammar imported and its compiler made: not timed below
    started = time.perf_counter()
    with pytest.raises(StructuredOutputError) as refused:
        guided_decoding_for(body, reasoning=Qwen3Reasoning())
    assert time.perf_counter() - started < 1.0  # compiling the depth-300 schema took 17 s
    assert refused.value.param == param
    assert "this server's limit" in str(refused.value)


def test_tools_that_are_not_forced_are_not_bounded() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": nested_schema(200)}}]
    assert guided_decoding_for({"tools": tools, "tool_choice": "auto"}) is None


def test_the_route_answers_400_naming_the_limit(assets: Assets, tokenizer: Tokenizer, tmp_path: Path) -> None:
    """A model that does guided decoding (a model without it refuses any guide first, naming that instead)."""
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["{}"]))
    body = {"model": "qwen3", "messages": [{"role": "user", "content": "x"}], **_response_format(nested_schema(300))}
    repository = served_repository(tmp_path, 4096, guided=True)
    with client_for(app_with(assets.tokenizer, upstream, model_repository=repository)) as client:
        response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "response_format"
    assert f"{MAX_GUIDE_DEPTH} levels" in error["message"]
    assert upstream.requests == []


def test_grammar_compiler_errors_do_not_echo_its_internals() -> None:
    schema = {"type": "object", "properties": {"a\ud800": {"type": "string"}}}
    with pytest.raises(StructuredOutputError) as refused:
        guided_decoding_for(_response_format(schema))
    message = str(refused.value)
    assert "Check failed" not in message
    assert "The JSON string is" not in message
    assert "grammar compiler refuses" in message
