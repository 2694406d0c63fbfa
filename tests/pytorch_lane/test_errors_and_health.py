"""Failures on the PyTorch lane reach the client in the same shapes as on the engine lane: a server error mid-stream
is an error event then [DONE], before any text a 502; an unhealthy server (HealthCheck's status) makes the proxy
not ready."""

from __future__ import annotations

import httpx
from trtllm_nix_testkit.background import ProxyThread
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.proxy.sse import chat, post_sse


def test_a_server_failure_mid_stream_is_an_error_event_then_done(pytorch_proxy: ProxyThread) -> None:
    sse = post_sse(
        pytorch_proxy.base_url, "/v1/chat/completions", chat("one two three four #fail_after:3", stream=True)
    )
    assert sse.status == 200
    assert sse.data[-1] == "[DONE]"
    assert "scripted failure after 3 tokens" in sse.events[-1]["error"]["message"]
    assert sse.text() == "one two three"


def test_a_failure_before_any_text_is_a_502(pytorch_proxy: ProxyThread) -> None:
    response = httpx.post(pytorch_proxy.base_url + "/v1/chat/completions", json=chat("x #fail_after:0"), timeout=30)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


def test_an_unhealthy_server_makes_the_proxy_not_ready(
    pytorch_proxy: ProxyThread, trtllm_service: TrtllmServiceThread
) -> None:
    assert httpx.get(pytorch_proxy.base_url + "/health/ready", timeout=30).status_code == 200
    trtllm_service.servicer.health = "Executor is unhealthy"
    try:
        assert httpx.get(pytorch_proxy.base_url + "/health/ready", timeout=30).status_code == 503
    finally:
        trtllm_service.servicer.health = "OK"
    assert httpx.get(pytorch_proxy.base_url + "/health/ready", timeout=30).status_code == 200


def test_min_p_is_refused_naming_the_lane(pytorch_proxy: ProxyThread) -> None:
    response = httpx.post(pytorch_proxy.base_url + "/v1/chat/completions", json=chat("x", min_p=0.1), timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "min_p"
    assert "TrtllmService" in error["message"]
