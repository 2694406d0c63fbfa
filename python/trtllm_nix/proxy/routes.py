"""The HTTP routes, thin: each calls one serving function (``serving.*.serve_*``) and returns its answer.
Everything under ``/v1`` needs the API key (a router dependency, so a new route cannot forget it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from trtllm_nix import __version__
from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.protocol import ChatCompletionRequest, CompletionRequest
from trtllm_nix.proxy.responses_api.store import delete_response, get_response
from trtllm_nix.proxy.serving.chat import serve_chat
from trtllm_nix.proxy.serving.completion import serve_completion
from trtllm_nix.proxy.serving.responses import serve_responses
from trtllm_nix.proxy.state import AppState, Call, get_state
from trtllm_nix.proxy.unicode_check import refuse_lone_surrogates

__all__ = ["AppState", "get_state", "meta", "require_api_key", "v1"]


def require_api_key(request: Request, authorization: str | None = Header(default=None)) -> None:
    get_state(request).api_key.check(authorization)


# the key first (401 before anything about the body), then text that is not Unicode (400 naming the field)
v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(refuse_lone_surrogates)])
meta = APIRouter()


@v1.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    return await serve_chat(Call.of(request), body)


@v1.post("/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> Response:
    return await serve_completion(Call.of(request), body)


@v1.post("/responses", response_model=None)
async def responses(request: Request) -> Response:
    return await serve_responses(Call.of(request))


@v1.get("/responses/{response_id}")
async def fetch_response(response_id: str, request: Request) -> JSONResponse:
    store = get_state(request).responses
    return JSONResponse(await asyncio.to_thread(get_response, store, response_id))


@v1.delete("/responses/{response_id}")
async def remove_response(response_id: str, request: Request) -> JSONResponse:
    store = get_state(request).responses
    return JSONResponse(await asyncio.to_thread(delete_response, store, response_id))


LOAD_SECTIONS = ("core", "disagg", "queues", "memory")  # what SMG's load monitor may ask for


@v1.get("/loads")
async def loads(request: Request, include: str = "core") -> JSONResponse:
    """The proxy's load in the shape SMG's load monitor reads (``GET /v1/loads?include=core,...``; SGLang's
    ``WorkerLoadResponse``), so SMG's load-aware policies (power_of_two, least_load, cache_aware's balance check,
    overload protection) see each proxy. One rank. ``token_usage`` is not the engine's KV-cache use, which the
    proxy cannot see through Triton: it is the proxy's own fill, generations in flight over ``--max-in-flight``
    (at 1.0 the proxy answers 429). The proxy queues nothing (past the limit it refuses), so nothing waits. Only the
    ``core`` section is reported; SMG takes the others as absent."""
    state = get_state(request)
    asked = [part.strip() for part in include.split(",")]
    unknown = [part for part in asked if part not in LOAD_SECTIONS]
    if unknown:
        raise bad_request(
            f"include: unknown section {unknown[0]!r}; the sections are {', '.join(LOAD_SECTIONS)}", param="include"
        )
    metrics = state.metrics
    processes = max(1, round(metrics.total("trtllm_nix_workers_ready"))) if metrics.multiprocess else 1
    limit = state.lifecycle.admission.limit * processes
    running = round(metrics.total("trtllm_nix_requests_in_flight"))
    generations = metrics.total("trtllm_nix_generations_in_flight")
    usage = round(min(1.0, generations / limit), 4)
    rank = {
        "dp_rank": 0,
        "num_running_reqs": running,
        "num_waiting_reqs": 0,
        "num_total_reqs": running,
        "token_usage": usage,
        "utilization": usage,
        "max_running_requests": limit,
    }
    timestamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return JSONResponse({"timestamp": timestamp, "version": __version__, "dp_rank_count": 1, "loads": [rank]})


@v1.get("/models")
async def list_models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [model.card() for model in get_state(request).models]})


@v1.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> JSONResponse:
    return JSONResponse(get_state(request).models.get(model_id).card())


@meta.get("/health")
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@meta.get("/health/ready")
async def ready(request: Request, authorization: str | None = Header(default=None)) -> JSONResponse:
    """Ready when every served model has a ready upstream; which upstreams, and how busy, only with the key."""
    state = get_state(request)
    ready_now = True
    upstreams: list[Any] = []
    for model in state.models:
        ready_now = await model.backend.ready() and ready_now
        upstreams += [{**s, "model": model.name} for s in model.backend.status()]
    body: dict[str, Any] = {"status": "ready" if ready_now else "not ready"}
    if state.api_key.allows(authorization):
        body["upstreams"] = upstreams
    return JSONResponse(body, status_code=200 if ready_now else 503)


@meta.get("/metrics")
async def metrics(request: Request, authorization: str | None = Header(default=None)) -> Response:
    """Behind the API key when one is set (it shows traffic, the worker pids and model names), unless the proxy was
    started with --public-metrics (a scraper on a trusted network without the key)."""
    state = get_state(request)
    if not state.settings.public_metrics:
        state.api_key.check(authorization)
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
