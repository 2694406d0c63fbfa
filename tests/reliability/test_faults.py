"""Faults with real processes: Triton killed mid-stream, Triton back again, a hung Triton and its deadline."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import wait_until
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import SSE, chat, post_sse
from tests.reliability.conftest import Factory, restart

SLOW = "word " * 200 + "#delay_ms:20"


def test_killed_triton_ends_every_stream_with_an_error_then_recovers(triton_factory: Factory, assets: Assets) -> None:
    triton = triton_factory("one")
    proxy = start_proxy(triton, assets)
    try:
        results: list[tuple[SSE, float]] = []
        statuses: list[int] = []
        killed_at: list[float] = []

        def stream() -> None:
            sse = post_sse(proxy.base_url, "/v1/chat/completions", chat(SLOW, stream=True))
            results.append((sse, time.monotonic()))

        def whole() -> None:
            statuses.append(
                httpx.post(proxy.base_url + "/v1/chat/completions", json=chat(SLOW), timeout=30).status_code
            )

        workers = [threading.Thread(target=stream) for _ in range(3)] + [threading.Thread(target=whole)]
        for worker in workers:
            worker.start()
        wait_until(lambda: _first_tokens(proxy.base_url) >= 4, 10, "all four to receive their first token")
        assert triton.server.pid is not None
        os.killpg(triton.server.pid, signal.SIGKILL)
        killed_at.append(time.monotonic())
        for worker in workers:
            worker.join(15)
        assert len(results) == 3
        for sse, ended in results:
            assert sse.status == 200
            assert sse.data[-1] == "[DONE]"
            assert sse.events[-1]["error"]["code"] == "upstream_unavailable"
            assert sse.text().startswith("word"), "text before the failure was delivered"
            assert ended - killed_at[0] < 10, "every stream learns of it promptly, not at its deadline"
        assert statuses == [503]
        assert httpx.get(proxy.base_url + "/health/ready").status_code == 503
        restart(triton)
        wait_until(lambda: httpx.get(proxy.base_url + "/health/ready").status_code == 200, 10, "readiness")
        answer = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("back again"), timeout=30)
        assert answer.json()["choices"][0]["message"]["content"] == "back again"
    finally:
        proxy.stop()


def test_hung_triton_hits_the_deadline_with_504_and_frees_the_slot(triton_factory: Factory, assets: Assets) -> None:
    triton = triton_factory("slow")
    proxy = start_proxy(triton, assets, request_timeout=1.0)
    try:
        started = time.monotonic()
        response = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("a b c #delay_ms:800"), timeout=30)
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "upstream_timeout"
        assert time.monotonic() - started < 20, "the deadline, not the whole answer"
        sse = post_sse(proxy.base_url, "/v1/chat/completions", chat("a b c d e f g #delay_ms:300", stream=True))
        assert sse.data[-1] == "[DONE]"
        assert sse.events[-1]["error"]["code"] == "upstream_timeout"
        wait_until(lambda: triton.stats()["cancelled"] == 2, 30, "the backend to see both cancellations")
        wait_until(
            lambda: "trtllm_nix_requests_in_flight 0.0" in httpx.get(proxy.base_url + "/metrics").text,
            30,
            "in flight 0",
        )
        metrics = httpx.get(proxy.base_url + "/metrics").text
        assert 'trtllm_nix_upstream_errors_total{kind="timeout"} 2.0' in metrics
    finally:
        proxy.stop()


def _first_tokens(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics").text
    line = next(x for x in text.splitlines() if x.startswith("trtllm_nix_time_to_first_token_seconds_count"))
    return float(line.split()[1])


def test_a_stopped_triton_is_refused_at_once_then_recovers(triton_factory: Factory, assets: Assets) -> None:
    """A hung Triton (SIGSTOP): once readiness knows (here /health/ready; without it the pool's own checks, about
    12 s), new requests get 503 at once, a stream too, instead of waiting their whole deadline (60 s here, 600 by
    default); after SIGCONT the proxy serves again without a restart."""
    triton = triton_factory("stopped")
    proxy = start_proxy(triton, assets, request_timeout=60.0)
    assert triton.server.pid is not None
    try:
        os.killpg(triton.server.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: httpx.get(proxy.base_url + "/health/ready").status_code == 503, 30, "not ready")
            started = time.monotonic()
            whole = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x"), timeout=30)
            streamed = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x", stream=True), timeout=30)
            took = time.monotonic() - started
        finally:
            os.killpg(triton.server.pid, signal.SIGCONT)
        assert (whole.status_code, streamed.status_code) == (503, 503)
        assert whole.json()["error"]["code"] == streamed.json()["error"]["code"] == "upstream_unavailable"
        assert took < 5, "refused at once, not at the deadline"
        wait_until(lambda: httpx.get(proxy.base_url + "/health/ready").status_code == 200, 30, "ready again")
        answer = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("back again"), timeout=30)
        assert answer.json()["choices"][0]["message"]["content"] == "back again"
    finally:
        proxy.stop()
