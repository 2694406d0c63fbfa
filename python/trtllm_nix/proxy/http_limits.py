"""Bounds on HTTP connections, where uvicorn has none: time to send the headers, time to send the body, the size
and number of header lines, and open connections.

uvicorn (0.54, with httptools) closes an idle keep-alive connection after 5 s, but a connection that has started a
request and stops mid-headers or mid-body is held for ever (100 such connections were held for a whole minute), and
any header size and count is accepted (a 1 MB header, 10,000 headers). This is uvicorn's own httptools protocol with
those four bounds added; the server is started with it (``http=PROTOCOL``). The bounds come from the settings
through the app's lifespan state (uvicorn hands that state to each connection), so every way of serving (one
process, ``--workers``, the test thread) gets them from the same place. Over a bound the client gets an OpenAI
error envelope (408, 431, 503) and the connection is closed. A reverse proxy in front can bound the same things;
these hold without one.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "trtllm_nix.proxy.http_limits:BoundedHttpProtocol"  # uvicorn's ``http=`` (an import path: --workers)
STATE_KEY = "trtllm_nix_http_limits"


@dataclass(frozen=True)
class HttpLimits:
    header_seconds: float = 10.0  # from the connection (or the end of its last answer) to the end of the headers
    body_seconds: float = 60.0  # from the end of the headers to the end of the body
    max_header_bytes: int = 32 * 1024  # request line and every header line together
    max_headers: int = 100
    max_connections: int = 1000


class _Refused(Exception):
    pass


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = self.app_state.get(STATE_KEY)
        self.limits = found if isinstance(found, HttpLimits) else HttpLimits()
        self._timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, f"the server holds its limit of {self.limits.max_connections} connections", "busy")
            return
        self._arm(self.limits.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = self._header_count = 0
        if self._timer is None:
            self._arm(self.limits.header_seconds, "headers")

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if not self.transport.is_closing():
            self._arm(self.limits.body_seconds, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._refuse(*self._refusal)

    def _count(self, size: int, lines: int) -> None:
        self._header_bytes += size
        self._header_count += lines
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, f"the request has more than {self.limits.max_headers} headers", "headers_too_large")
            raise _Refused()  # httptools turns it into a parser error; send_400_response answers
        if self._header_bytes > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            self._refusal = (431, f"the request's headers exceed {limit} bytes", "headers_too_large")
            raise _Refused()

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, seconds, part)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, seconds: float, part: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if part == "body" and self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # the app answered without the body: nothing more to say
            return
        self._refuse(408, f"the request's {part} did not arrive within {seconds:g} s", "request_timeout")

    def _refuse(self, status: int, message: str, code: str) -> None:
        """Answer with an OpenAI error envelope and close the connection (the app is not involved)."""
        self._disarm()
        if self.cycle is not None:
            self.cycle.disconnected = True  # the app, if it runs, sees the client gone
            self.cycle.message_event.set()
        type_ = "invalid_request_error" if status != 503 else "service_unavailable"
        body = json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}
        head = b"HTTP/1.1 %d %s\r\n" % (status, reason.get(status, b"Error"))
        headers = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        self.transport.write(head + headers + body)
        self.transport.close()
