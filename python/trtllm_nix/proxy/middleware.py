"""Pure ASGI middleware (no per-chunk overhead on streams): request ids, a body size limit, request metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trtllm_nix.proxy.api_errors import APIError, internal_error
from trtllm_nix.proxy.messages_api.errors import error_response as anthropic_error
from trtllm_nix.proxy.messages_api.errors import is_messages_path
from trtllm_nix.proxy.metrics import ProxyMetrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_ENDPOINTS = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/responses",
        "/v1/models",
        "/v1/loads",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/tokenize",
        "/detokenize",
        "/health",
        "/health/ready",
        "/metrics",
    }
)


class _BodyTooLarge(Exception):
    pass


def _envelope(path: str, error: APIError) -> Response:
    """OpenAI's error envelope, or Anthropic's on the Messages API."""
    return anthropic_error(error) if is_messages_path(path) else error.response()


def endpoint_label(path: str) -> str:
    if path in _ENDPOINTS:
        return path
    if path.startswith("/v1/models/"):
        return "/v1/models/{id}"
    if path.startswith("/v1/responses/"):
        return "/v1/responses/{id}"
    return "other"


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, metrics: ProxyMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"], state["arrived"] = request_id, time.perf_counter()
        status = {"code": 500, "started": False}
        endpoint = endpoint_label(scope["path"])

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        declared = headers.get(b"content-length")
        try:
            if declared is None:
                body_receive = await self._buffered(receive)
            elif declared.isdigit() and int(declared) > self.max_body_bytes:
                raise _BodyTooLarge()
            else:
                body_receive = receive  # the server holds the body to its declared length
            await self.app(scope, body_receive, send_with_id)
        except _BodyTooLarge:
            self.metrics.rejections.labels(reason="body_too_large").inc()
            error = APIError(413, f"the request body exceeds {self.max_body_bytes} bytes", code="request_too_large")
            await _envelope(scope["path"], error)(scope, receive, send_with_id)
        except Exception as error:  # a bug: an OpenAI envelope with the request id, never a bare text 500
            logging.getLogger("trtllm_nix.proxy").error("request %s failed", request_id, exc_info=error)
            if status["started"]:
                raise
            await _envelope(scope["path"], internal_error(request_id))(scope, receive, send_with_id)
        finally:
            self.metrics.requests.labels(endpoint=endpoint, status=str(status["code"])).inc()
            self.metrics.worker_requests.labels(pid=self.metrics.pid).inc()

    async def _buffered(self, receive: Receive) -> Receive:
        """Read a body of unknown length up front (at most the limit), then replay it to the app."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > self.max_body_bytes:
                raise _BodyTooLarge()
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()

        return replay
