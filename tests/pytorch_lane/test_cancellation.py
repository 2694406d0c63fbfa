"""Cancellation on the PyTorch lane: a client that leaves, or a stop string the proxy matched, ends the request in
the server with an ``Abort`` by its request id (what TensorRT-LLM's servicer and SMG use; closing the stream alone
is not relied on). An answer that cannot finish first (40 s of tokens), so only the abort can end it."""

from __future__ import annotations

import json
import socket

import httpx
from trtllm_nix_testkit.background import ProxyThread
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.helpers import wait_until
from tests.proxy.sse import chat

LONG = "word " * 200 + "#delay_ms:10"
ENDLESS = {"ignore_eos": True, "max_tokens": 4000}


def _cancelled(server: TrtllmServiceThread) -> int:
    return server.stats.counters.cancelled


def test_streaming_disconnect_aborts_by_request_id(
    pytorch_proxy: ProxyThread, trtllm_service: TrtllmServiceThread
) -> None:
    aborts, cancelled = len(trtllm_service.servicer.aborts), _cancelled(trtllm_service)
    with httpx.stream(
        "POST",
        pytorch_proxy.base_url + "/v1/chat/completions",
        json=chat(LONG, stream=True, **ENDLESS),
        headers={"X-Request-Id": "leaving-client-1"},
        timeout=30,
    ) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data: ")
            if seen == 5:
                break
    wait_until(lambda: len(trtllm_service.servicer.aborts) == aborts + 1, 30, "the Abort call")
    assert trtllm_service.servicer.aborts[-1].startswith("leaving-client-1")
    wait_until(lambda: _cancelled(trtllm_service) == cancelled + 1, 30, "the engine to stop the request")


def test_non_streaming_disconnect_aborts(pytorch_proxy: ProxyThread, trtllm_service: TrtllmServiceThread) -> None:
    aborts, started = len(trtllm_service.servicer.aborts), trtllm_service.stats.counters.started
    body = json.dumps(chat(LONG, **ENDLESS)).encode()
    with socket.create_connection((pytorch_proxy.settings.host, pytorch_proxy.settings.port), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"X-Request-Id: leaving-client-2\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        wait_until(lambda: trtllm_service.stats.counters.started > started, 10, "the request to start")
    wait_until(lambda: len(trtllm_service.servicer.aborts) == aborts + 1, 30, "the Abort call")
    assert trtllm_service.servicer.aborts[-1].startswith("leaving-client-2")


def test_a_matched_stop_string_aborts_the_rest(pytorch_proxy: ProxyThread, trtllm_service: TrtllmServiceThread) -> None:
    aborts = len(trtllm_service.servicer.aborts)
    answer = httpx.post(
        pytorch_proxy.base_url + "/v1/chat/completions",
        json=chat("alpha beta gamma delta #delay_ms:10", stop=["gamma"], **ENDLESS),
        timeout=30,
    ).json()
    assert answer["choices"][0]["message"]["content"] == "alpha beta "
    assert answer["choices"][0]["finish_reason"] == "stop"
    wait_until(lambda: len(trtllm_service.servicer.aborts) == aborts + 1, 30, "the Abort call")


def test_a_finished_request_is_not_aborted(pytorch_proxy: ProxyThread, trtllm_service: TrtllmServiceThread) -> None:
    aborts, finished = len(trtllm_service.servicer.aborts), trtllm_service.stats.counters.finished
    answer = httpx.post(pytorch_proxy.base_url + "/v1/chat/completions", json=chat("done."), timeout=30).json()
    assert answer["choices"][0]["message"]["content"] == "done."
    wait_until(lambda: trtllm_service.stats.counters.finished == finished + 1, 10, "the request to finish")
    assert len(trtllm_service.servicer.aborts) == aborts
