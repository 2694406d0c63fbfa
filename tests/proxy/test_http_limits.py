"""Connection bounds on a real port (uvicorn with the proxy's protocol): requests whose headers or body never
finish are answered 408 and closed, oversized headers 431, connections past the limit 503; each in the OpenAI
envelope. Before, such connections were held for ever and a 1 MB header was accepted."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tokenizers import Tokenizer
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import wait_until
from tests.proxy.fake_upstream import FakeUpstream, pieces

TIMEOUT = 0.5


def _proxy(assets: Assets, tokenizer: Tokenizer, **settings: Any) -> ProxyThread:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["ok"]))
    fields: dict[str, Any] = {"tokenizer": assets.tokenizer, "port": free_ports(1)[0], **settings}
    return ProxyThread(ProxySettings(**fields), upstream=upstream)


@pytest.fixture(scope="module")
def bounded(assets: Assets, tokenizer: Tokenizer) -> Iterator[ProxyThread]:
    with _proxy(assets, tokenizer, header_timeout=TIMEOUT, body_timeout=TIMEOUT) as proxy:
        yield proxy


def _connect(proxy: ProxyThread) -> socket.socket:
    return socket.create_connection((proxy.settings.host, proxy.settings.port), timeout=10)


def _answer(sock: socket.socket) -> tuple[int, dict[str, Any], float]:
    """Read until the server closes: (status, JSON body, seconds it took); fails if it is not closed in 10 s."""
    started = time.monotonic()
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), time.monotonic() - started


def _assert_envelope(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert {"message", "type", "param", "code"} <= set(body["error"])


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, nothing sent
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",  # headers never finished
    ],
    ids=["silent", "unfinished headers"],
)
def test_headers_that_never_finish_are_408_and_closed(bounded: ProxyThread, sent: bytes) -> None:
    with _connect(bounded) as sock:
        sock.sendall(sent)
        status, body, took = _answer(sock)
    assert status == 408
    _assert_envelope(body, "request_timeout")
    assert "headers" in body["error"]["message"]
    assert took < 8


@pytest.mark.parametrize(
    "sent",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"model"',
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    ],
    ids=["declared length", "chunked"],
)
def test_a_body_that_never_finishes_is_408_and_closed(bounded: ProxyThread, sent: bytes) -> None:
    with _connect(bounded) as sock:
        sock.sendall(sent)
        status, body, took = _answer(sock)
    assert status == 408
    _assert_envelope(body, "request_timeout")
    assert "body" in body["error"]["message"]
    assert took < 8
    assert httpx.get(bounded.base_url + "/health").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"X-Big": "a" * (64 * 1024)}, {f"X-Many-{i}": "1" for i in range(200)}],
    ids=["one 64 KB header", "200 headers"],
)
def test_oversized_headers_are_431(bounded: ProxyThread, headers: dict[str, str]) -> None:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with _connect(bounded) as sock:
        sock.sendall(f"GET /v1/models HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode())
        status, body, _ = _answer(sock)
    assert status == 431
    _assert_envelope(body, "headers_too_large")


def test_ordinary_requests_and_keep_alive_still_work(bounded: ProxyThread) -> None:
    with httpx.Client(base_url=bounded.base_url) as client:
        for _ in range(3):
            chat = {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
            assert client.post("/v1/chat/completions", json=chat).status_code == 200
            assert client.get("/v1/models", headers={"X-Fine": "a" * 4000}).status_code == 200


def test_connections_past_the_limit_are_503_and_closed(assets: Assets, tokenizer: Tokenizer) -> None:
    with _proxy(assets, tokenizer, max_connections=2) as proxy, httpx.Client(base_url=proxy.base_url) as first:
        assert first.get("/health").status_code == 200  # held open (keep-alive)
        with _connect(proxy) as second:
            second.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert second.recv(12).startswith(b"HTTP/1.1 200")
            with _connect(proxy) as third:
                status, body, _ = _answer(third)
            assert status == 503
            _assert_envelope(body, "busy")
        first.close()

        def admitted() -> bool:
            with _connect(proxy) as again:
                again.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return again.recv(12).startswith(b"HTTP/1.1 200")

        wait_until(admitted, 10, "a connection admitted once the others closed")
