"""A client that disconnects, streaming or not, cancels its Triton request (an answer that cannot finish first, so
only a cancellation can end it; the deadlines are generous, the machine is shared)."""

from __future__ import annotations

import json
import socket

import httpx
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton, wait_until
from tests.proxy.sse import chat

LONG = "word " * 200 + "#delay_ms:10"
ENDLESS = {"ignore_eos": True, "max_tokens": 4000}  # 40 s at 10 ms a token


def test_streaming_disconnect_cancels_generation(scripted_proxy: ProxyThread, scripted_triton: RunningTriton) -> None:
    before = scripted_triton.stats()
    with httpx.stream(
        "POST", scripted_proxy.base_url + "/v1/chat/completions", json=chat(LONG, stream=True, **ENDLESS)
    ) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data: ")
            if seen == 5:
                break
    wait_until(lambda: scripted_triton.stats()["cancelled"] == before["cancelled"] + 1, 30, "the backend to stop")
    assert scripted_triton.stats()["finished"] == before["finished"], "cancelled, not run to its end"
    wait_until(lambda: _in_flight(scripted_proxy) == 0, 30, "the in-flight gauge to return to 0")


def test_non_streaming_disconnect_cancels_generation(
    scripted_proxy: ProxyThread, scripted_triton: RunningTriton
) -> None:
    before = scripted_triton.stats()
    body = json.dumps(chat(LONG, **ENDLESS)).encode()
    host, port = scripted_proxy.settings.host, scripted_proxy.settings.port
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        wait_until(lambda: scripted_triton.stats()["started"] > before["started"], 5.0, "the request to start")
    # the socket is closed: the client left before the answer
    wait_until(lambda: scripted_triton.stats()["cancelled"] == before["cancelled"] + 1, 30, "the backend to stop")
    wait_until(lambda: _in_flight(scripted_proxy) == 0, 30, "the in-flight gauge to return to 0")


def _in_flight(proxy: ProxyThread) -> float:
    text = httpx.get(proxy.base_url + "/metrics").text
    line = next(x for x in text.splitlines() if x.startswith("trtllm_nix_requests_in_flight "))
    return float(line.split()[1])
