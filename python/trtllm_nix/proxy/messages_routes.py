"""The routes of Anthropic's Messages API, thin as the OpenAI ones (``proxy.routes``): the API key as ``x-api-key``
or a Bearer token, every error in Anthropic's envelope (``messages_api.errors.AnthropicRoute``), the request through
``serving.messages``, the generation and lifecycle shared with the other routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.messages_api.errors import AnthropicRoute
from trtllm_nix.proxy.messages_api.protocol import parse_count_request
from trtllm_nix.proxy.messages_api.protocol import parse_request as parse_messages_request
from trtllm_nix.proxy.messages_api.render import PING, MessageMeta
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.routes import _events as events_of  # the generation, as every route runs it
from trtllm_nix.proxy.routes import _ready as ready  # 503 at once when no upstream is ready
from trtllm_nix.proxy.routes import arrived, get_state, request_id
from trtllm_nix.proxy.serving.messages import MessagesJob, count_tokens, prepare_messages
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


async def json_body(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None


@router.post("/messages", response_model=None)
async def messages(request: Request) -> Response:
    """Anthropic's Messages API (also as ``/v1/messages?beta=true``, Claude Code's URL)."""
    state = get_state(request)
    body = parse_messages_request(await json_body(request))
    model = state.models.get(body.model)
    ready(state, model)
    rid = request_id(request)
    with state.lifecycle.admitted() as ticket:  # before preparing, as chat: rendering and tokenizing are work
        job = await prepare_messages(model, body, state.signer, rid, state.settings.log_prompts)
        meta = MessageMeta(
            model.name, len(job.upstream.input_ids), state.signer, body.thinking_display(), job.single_call
        )
        answer = MessagesJob(meta, lambda e: state.lifecycle.error(e, rid))
        since = arrived(request)
        headers = {"request-id": rid}

        def events() -> AsyncIterator[OutputEvent]:
            return events_of(state, model, job.upstream, job.stops, job.parser(), since)

        if body.stream:
            return state.lifecycle.respond_stream(rid, answer.stream(events()), ticket, headers, keepalive=PING)
        return await state.lifecycle.respond_once(request, rid, lambda: answer.complete(events()), ticket, headers)


@router.post("/messages/count_tokens")
async def messages_count_tokens(request: Request) -> JSONResponse:
    state = get_state(request)
    body = parse_count_request(await json_body(request))
    return JSONResponse(await count_tokens(state.models.get(body.model), body, state.signer))


@router.api_route("/messages/{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def messages_not_served(rest: str) -> Response:
    """Anthropic's other Messages paths (message batches), answered in Anthropic's envelope."""
    raise APIError(
        404,
        f"/v1/messages/{rest} is not served here: this server answers POST /v1/messages and POST "
        "/v1/messages/count_tokens (no message batches)",
        type_="not_found_error",
    )
