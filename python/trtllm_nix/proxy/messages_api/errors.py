"""Anthropic's error envelope, ``{"type": "error", "error": {"type", "message"}}``, for every failure on the
Messages routes: a status before the answer starts, an ``error`` event after.

The proxy raises ``APIError`` (OpenAI's words) everywhere; on ``/v1/messages...`` it is re-dressed here, keeping
its status and message: ``AnthropicRoute`` for what the route and its dependencies raise, ``is_messages_path`` for
the middleware's own answers (body too large, a bug)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from trtllm_nix.proxy.api_errors import APIError

MESSAGES_PREFIX = "/v1/messages"
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",  # Anthropic's is 529; the status stays the proxy's 503 (what other routes answer)
    504: "timeout_error",
    529: "overloaded_error",
}


def is_messages_path(path: str) -> bool:
    return path == MESSAGES_PREFIX or path.startswith(MESSAGES_PREFIX + "/")


def error_body(error: APIError) -> dict[str, Any]:
    kind = _TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def error_response(error: APIError, request_id: str = "") -> JSONResponse:
    headers = {**error.headers, **({"request-id": request_id} if request_id else {})}
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def error_event(error: APIError) -> bytes:
    """The ``error`` event that ends a stream which failed after it started."""
    return b"event: error\ndata: " + json.dumps(error_body(error), ensure_ascii=False).encode() + b"\n\n"


class AnthropicRoute(APIRoute):
    """A route whose errors (its own, its dependencies': the API key, the model lookup, admission) are Anthropic's
    envelope with the same status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            request_id = str(request.scope.get("state", {}).get("request_id", ""))
            try:
                return await handler(request)
            except APIError as error:
                return error_response(error, request_id)
            except HTTPException as error:
                return error_response(APIError(error.status_code, str(error.detail)), request_id)

        return guarded
