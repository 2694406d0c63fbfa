"""Every error status with the OpenAI envelope: 400, 401, 404, 413, 429 (Retry-After), 503, and mid-stream errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton, wait_until
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import chat, post_sse


def _envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return dict(error)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (chat("x", max_tokens=-1), "max_tokens"),
        (chat("x", max_tokens=0), "max_tokens"),
        (chat("x", temperature=-0.5), "temperature"),
        (chat("x", top_p=0), "top_p"),
        (chat("x", n=129), "n"),
        (chat("x", logprobs=True, top_logprobs=3), "top_logprobs"),
        ({"model": "qwen3", "messages": []}, "messages"),
        ({"model": "qwen3", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"model": "qwen3", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ],
)
def test_invalid_values_are_400(scripted_proxy: ProxyThread, body: dict[str, Any], param: str) -> None:
    error = _envelope(httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_malformed_json_is_400(scripted_proxy: ProxyThread) -> None:
    response = httpx.post(
        scripted_proxy.base_url + "/v1/chat/completions",
        content=b'{"model": "qwen3", "mess',
        headers={"Content-Type": "application/json"},
    )
    assert _envelope(response, 400)["code"] == "invalid_json"


def test_unknown_fields_are_ignored(scripted_proxy: ProxyThread) -> None:
    body = chat("fine", reasoning_effort="low", min_p=0.0, logit_bias=None, custom_param={"a": 1})  # min_p at 0 only
    response = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body)
    assert response.json()["choices"][0]["message"]["content"] == "fine"


def test_prompt_past_the_context_is_400(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = start_proxy(scripted_triton, assets, max_model_len=64)
    try:
        long = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("word " * 100))
        error = _envelope(long, 400)
        assert error["code"] == "context_length_exceeded"
        assert "leaves no room in the 64-token context" in error["message"]
        too_many = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x", max_tokens=60))
        assert _envelope(too_many, 400)["param"] == "max_tokens"
    finally:
        proxy.stop()


def test_unknown_model_is_404(scripted_proxy: ProxyThread) -> None:
    body = {**chat("x"), "model": "gpt-4"}
    error = _envelope(httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body), 404)
    assert error["code"] == "model_not_found"
    assert _envelope(httpx.get(scripted_proxy.base_url + "/v1/models/gpt-4"), 404)["param"] == "model"


@pytest.fixture
def keyed_proxy(scripted_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    proxy = start_proxy(scripted_triton, assets, api_key="s3cret-key")
    yield proxy
    proxy.stop()


def test_api_key_is_required_on_every_v1_route(keyed_proxy: ProxyThread) -> None:
    base = keyed_proxy.base_url
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"}):
        assert _envelope(httpx.post(base + "/v1/chat/completions", json=chat("x"), headers=headers), 401)["type"] == (
            "authentication_error"
        )
        _envelope(httpx.get(base + "/v1/models", headers=headers), 401)
        _envelope(httpx.post(base + "/v1/completions", json={"model": "qwen3", "prompt": "x"}, headers=headers), 401)
    good = {"Authorization": "Bearer s3cret-key"}
    assert httpx.post(base + "/v1/chat/completions", json=chat("yes"), headers=good).status_code == 200
    assert httpx.get(base + "/health").status_code == 200


def test_oversized_body_is_413(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = start_proxy(scripted_triton, assets, max_body_bytes=2048)
    try:
        big = chat("x" * 4096)
        assert _envelope(httpx.post(proxy.base_url + "/v1/chat/completions", json=big), 413)["code"] == (
            "request_too_large"
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
            yield b'{"model": "qwen3", "messages": [{"role": "user", "content": "'
            yield b"y" * 4096
            yield b'"}]}'

        chunked = httpx.post(
            proxy.base_url + "/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"}
        )
        _envelope(chunked, 413)
        assert httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("small")).status_code == 200
    finally:
        proxy.stop()


def test_past_the_in_flight_limit_is_429_with_retry_after(scripted_triton: RunningTriton, assets: Assets) -> None:
    """The held stream cannot finish before the refusal (40 s of tokens; it is closed, so cancelled, after)."""
    proxy = start_proxy(scripted_triton, assets, max_in_flight=1)
    endless = chat("word " * 200 + "#delay_ms:10", stream=True, ignore_eos=True, max_tokens=4000)
    try:
        with httpx.stream("POST", proxy.base_url + "/v1/chat/completions", json=endless, timeout=60) as held:
            assert held.status_code == 200  # admitted: the stream's status comes before its first token
            refused = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x"))
            error = _envelope(refused, 429)
            assert refused.headers["retry-after"] == "1"
            assert error["type"] == "rate_limit_error"
        wait_until(lambda: _gauge(proxy, "trtllm_nix_requests_in_flight") == 0, 30, "the held stream to end")
        assert httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("after")).status_code == 200
    finally:
        proxy.stop()


def _gauge(proxy: ProxyThread, name: str) -> float:
    text = httpx.get(proxy.base_url + "/metrics").text
    return float(next(x for x in text.splitlines() if x.startswith(name + " ")).split()[1])


def test_unreachable_triton_is_503(assets: Assets) -> None:
    from trtllm_nix.proxy.settings import ProxySettings

    dead = free_ports(1)[0]
    proxy = ProxyThread(ProxySettings(tokenizer=assets.tokenizer, triton=f"127.0.0.1:{dead}", port=free_ports(1)[0]))
    proxy.start()
    try:
        error = _envelope(httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x")), 503)
        assert error["code"] == "upstream_unavailable"
        assert str(dead) not in error["message"]  # the log has the address, the client does not
        # the first failure took the upstream out of rotation: a stream now fails before it starts, with a status
        streamed = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x", stream=True))
        assert _envelope(streamed, 503)["code"] == "upstream_unavailable"
        assert httpx.get(proxy.base_url + "/health/ready").status_code == 503
        assert httpx.get(proxy.base_url + "/health").status_code == 200
    finally:
        proxy.stop()


def test_failure_mid_stream_sends_an_error_event_then_done(scripted_proxy: ProxyThread) -> None:
    sse = post_sse(
        scripted_proxy.base_url, "/v1/chat/completions", chat("one two three four five #fail_after:3", stream=True)
    )
    assert sse.status == 200
    assert sse.data[-1] == "[DONE]"
    last = sse.events[-1]
    assert "error" in last
    assert "scripted failure after 3 tokens" in last["error"]["message"]
    assert all(e.get("choices", [{}])[0].get("finish_reason") is None for e in sse.events if "choices" in e)
    assert sse.text() == "one two three"


def test_failure_before_any_text_is_a_502(scripted_proxy: ProxyThread) -> None:
    response = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=chat("x #fail_after:0"))
    assert _envelope(response, 502)["type"] == "upstream_error"
