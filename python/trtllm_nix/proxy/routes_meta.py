"""Models, health and readiness."""

from __future__ import annotations

import time

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from trtllm_nix.proxy.state import get_state

router = APIRouter()
_STARTED = int(time.time())


def _card(model: str, context: int) -> dict[str, object]:
    return {"id": model, "object": "model", "created": _STARTED, "owned_by": "trtllm-nix", "max_model_len": context}


@router.get("/v1/models")
async def list_models(request: Request, authorization: str | None = Header(default=None)) -> JSONResponse:
    state = get_state(request)
    state.check_api_key(authorization)
    context = state.settings.max_model_len or state.files.context_length
    return JSONResponse({"object": "list", "data": [_card(state.settings.model_name, context)]})


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request, authorization: str | None = Header(default=None)) -> JSONResponse:
    state = get_state(request)
    state.check_api_key(authorization)
    state.check_model(model_id)
    context = state.settings.max_model_len or state.files.context_length
    return JSONResponse(_card(state.settings.model_name, context))


@router.get("/health")
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    state = get_state(request)
    ready_now = await state.upstream.ready()
    body = {"status": "ready" if ready_now else "not ready", "upstreams": state.upstream.status()}
    return JSONResponse(body, status_code=200 if ready_now else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(get_state(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
