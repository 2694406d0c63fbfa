"""Prometheus metrics and request ids."""

from __future__ import annotations

import httpx
from trtllm_nix_testkit.background import ProxyThread

from tests.proxy.sse import chat, post_sse


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_metrics_count_requests_tokens_and_latency(scripted_proxy: ProxyThread) -> None:
    base = scripted_proxy.base_url
    before = httpx.get(base + "/metrics").text
    httpx.post(base + "/v1/chat/completions", json=chat("one two three"))
    post_sse(base, "/v1/chat/completions", chat("four five", stream=True))
    httpx.post(base + "/v1/chat/completions", json={**chat("x"), "model": "nope"})
    after = httpx.get(base + "/metrics").text
    ok = 'trtllm_nix_requests_total{endpoint="/v1/chat/completions",status="200"}'
    missing = 'trtllm_nix_requests_total{endpoint="/v1/chat/completions",status="404"}'
    assert _metric(after, ok) - _metric(before, ok) == 2
    assert _metric(after, missing) - _metric(before, missing) == 1
    assert (
        _metric(after, "trtllm_nix_completion_tokens_total") - _metric(before, "trtllm_nix_completion_tokens_total")
        == 5
    )
    assert _metric(after, "trtllm_nix_prompt_tokens_total") > _metric(before, "trtllm_nix_prompt_tokens_total")
    ttft = "trtllm_nix_time_to_first_token_seconds_count"
    assert _metric(after, ttft) - _metric(before, ttft) == 2
    itl = "trtllm_nix_inter_token_latency_seconds_count"
    assert _metric(after, itl) - _metric(before, itl) == 3
    assert _metric(after, "trtllm_nix_requests_in_flight") == 0


def test_request_id_is_echoed_or_created(scripted_proxy: ProxyThread) -> None:
    given = httpx.post(
        scripted_proxy.base_url + "/v1/chat/completions", json=chat("x"), headers={"X-Request-Id": "trace-42"}
    )
    assert given.headers["x-request-id"] == "trace-42"
    created = httpx.get(scripted_proxy.base_url + "/v1/models")
    assert len(created.headers["x-request-id"]) == 32
    hostile = httpx.get(scripted_proxy.base_url + "/v1/models", headers={"X-Request-Id": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_health_endpoints(scripted_proxy: ProxyThread) -> None:
    assert httpx.get(scripted_proxy.base_url + "/health").json() == {"status": "ok"}
    assert httpx.get(scripted_proxy.base_url + "/health/ready").json()["status"] == "ready"


def test_cors_only_for_configured_origins(scripted_triton, assets) -> None:  # type: ignore[no-untyped-def]
    from tests.proxy.conftest import start_proxy

    proxy = start_proxy(scripted_triton, assets, cors_origins=("http://ui.example",))
    try:
        preflight = {
            "Origin": "http://ui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        allowed = httpx.options(proxy.base_url + "/v1/chat/completions", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
        other = httpx.options(proxy.base_url + "/v1/chat/completions", headers={**preflight, "Origin": "http://evil"})
        assert "access-control-allow-origin" not in other.headers
    finally:
        proxy.stop()


def test_no_cors_by_default(scripted_proxy: ProxyThread) -> None:
    preflight = {"Origin": "http://ui.example", "Access-Control-Request-Method": "POST"}
    response = httpx.options(scripted_proxy.base_url + "/v1/chat/completions", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
