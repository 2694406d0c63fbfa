"""The routes of Anthropic's Messages API, thin as the OpenAI ones (``proxy.routes``): the API key as ``x-api-key``
or a Bearer token, every error in Anthropic's envelope (``messages_api.errors.AnthropicRoute``); each route calls one
serving function (``serving.messages``), which shares the generation and lifecycle with the other routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.messages_api.errors import AnthropicRoute
from trtllm_nix.proxy.serving.messages import serve_count_tokens, serve_messages
from trtllm_nix.proxy.state import Call, get_state
from trtllm_nix.proxy.unicode_check import refuse_lone_surrogates


def require_messages_key(
    request: Request, authorization: str | None = Header(default=None), x_api_key: str | None = Header(default=None)
) -> None:
    """The Anthropic clients' ways to send the same key: ``x-api-key`` (Claude Code) or a Bearer token."""
    state = get_state(request)
    if state.api_key.allows(authorization) or (x_api_key is not None and state.api_key.allows(f"Bearer {x_api_key}")):
        return
    state.metrics.rejections.labels(reason="unauthorized").inc()
    raise APIError(
        401,
        "a valid API key is required: send x-api-key: <key> (or Authorization: Bearer <key>)",
        type_="authentication_error",
        code="invalid_api_key",
    )


router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_messages_key), Depends(refuse_lone_surrogates)],  # as the OpenAI routes
    route_class=AnthropicRoute,
)


@router.post("/messages", response_model=None)
async def messages(request: Request) -> Response:
    """Anthropic's Messages API (also as ``/v1/messages?beta=true``, Claude Code's URL)."""
    return await serve_messages(Call.of(request))


@router.post("/messages/count_tokens")
async def messages_count_tokens(request: Request) -> JSONResponse:
    return JSONResponse(await serve_count_tokens(Call.of(request)))


@router.api_route("/messages/{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def messages_not_served(rest: str) -> Response:
    """Anthropic's other Messages paths (message batches), answered in Anthropic's envelope."""
    raise APIError(
        404,
        f"/v1/messages/{rest} is not served here: this server answers POST /v1/messages and POST "
        "/v1/messages/count_tokens (no message batches)",
        type_="not_found_error",
    )
