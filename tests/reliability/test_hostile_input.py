"""Hostile input: schemathesis against the proxy's own OpenAPI schema (every generating route, /tokenize and
/detokenize, model lookup), and hand-made worst cases. No 5xx, every 4xx in the API's envelope (OpenAI's;
Anthropic's on /v1/messages), and the server keeps serving."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import chat

OPERATIONS = [
    ("/v1/chat/completions", "POST"),
    ("/v1/completions", "POST"),
    ("/v1/responses", "POST"),
    ("/v1/messages", "POST"),
    ("/tokenize", "POST"),
    ("/detokenize", "POST"),
    ("/v1/models/{model_id}", "GET"),
]
GENERATING = {"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages"}
EXAMPLES = 25  # per operation: the whole run stays well under a minute


def _assert_answered_well(response: Any, anthropic: bool = False) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        if anthropic:  # Anthropic's envelope on /v1/messages
            assert body["type"] == "error", body
            assert {"type", "message"} <= set(body["error"])
            return
        assert set(body) == {"error"}, body
        assert {"message", "type", "param", "code"} <= set(body["error"])


@pytest.fixture(scope="module")
def fuzzed_proxy(scripted_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    """The proxy as the demo runs it: with the scripted repository, so guided decoding and prompt scoring (echo
    with logprobs) are on and reached by generated requests."""
    proxy = start_proxy(scripted_triton, assets, model_repository=scripted_triton.server.model_repository)
    yield proxy
    proxy.stop()


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_schemathesis_finds_no_server_error(fuzzed_proxy: ProxyThread, path: str, method: str) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_proxy.base_url + "/openapi.json")
    strategy = schema[path][method].as_strategy()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        if isinstance(case.body, dict):
            # the schema names the served model already; pinned anyway, so the test shows the routes are reached
            case.body["model"] = "qwen3"
            if path in GENERATING:  # keep generated answers short: a null or huge limit generates to the context
                case.body["max_output_tokens" if path == "/v1/responses" else "max_tokens"] = 8
                case.body.pop("max_completion_tokens", None)
                case.body.pop("previous_response_id", None)  # an unknown id is a 404, not a reached route
        response = case.call(base_url=fuzzed_proxy.base_url, timeout=30)
        statuses.append(response.status_code)
        _assert_answered_well(response, anthropic=path.startswith("/v1/messages"))

    statuses: list[int] = []
    started = time.monotonic()
    check()
    if method == "POST":
        past_the_model = [status for status in statuses if status != 404]
        assert len(past_the_model) == len(statuses), statuses
        assert 200 in statuses, f"no generated body got an answer: {statuses}"
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"{path}: {elapsed:.1f} s for {len(statuses)} cases"
    assert httpx.post(fuzzed_proxy.base_url + "/v1/chat/completions", json=chat("still fine")).status_code == 200


def _nested(depth: int) -> str:
    return '{"model": "qwen3", "messages": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (_nested(100_000).encode(), 400),  # deeper than any JSON parser's recursion limit
        (b'{"model": "qwen3", "messages": [{"role": "user", "content": "\xff\xfe broken"}]}', 400),
        (json.dumps(chat("x", max_tokens=10**12)).encode(), 400),
        (json.dumps(chat("x", temperature=1e308)).encode(), 400),
        (
            json.dumps(
                {
                    "model": "qwen3",
                    "messages": [{"role": "user", "content": "#reply: ok\x00\x07\x1b[31m"}],
                    "max_tokens": 5,
                }
            ).encode(),
            200,
        ),
    ],
    ids=["nested 100k deep", "invalid UTF-8", "huge max_tokens", "huge temperature", "control characters"],
)
def test_worst_cases_get_clear_answers(scripted_proxy: ProxyThread, content: bytes, status: int) -> None:
    response = httpx.post(
        scripted_proxy.base_url + "/v1/chat/completions",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == status, response.text[:300]
    if status >= 400:
        _assert_answered_well(response)


@pytest.mark.parametrize("model", ["../../etc/passwd", "qwen3/../../x", "%2e%2e%2fetc", "qwen3%00"])
def test_model_ids_are_compared_not_resolved(scripted_proxy: ProxyThread, model: str) -> None:
    assert httpx.get(f"{scripted_proxy.base_url}/v1/models/{model}").status_code == 404
    response = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json={**chat("x"), "model": model})
    assert response.status_code == 404
    _assert_answered_well(response)
