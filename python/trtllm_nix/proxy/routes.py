"""The HTTP routes, thin: check the key, find the model, prepare, then hand over to the lifecycle and a renderer.
Everything under ``/v1`` needs the API key (a router dependency, so a new route cannot forget it)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from trtllm_nix import __version__
from trtllm_nix.llm.generation import generate
from trtllm_nix.llm.triton_client import UpstreamRequest
from trtllm_nix.proxy.admission import ApiKey
from trtllm_nix.proxy.api_errors import APIError, bad_request, unavailable
from trtllm_nix.proxy.lifecycle import Lifecycle
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.parsers.base import SpanParser, parse
from trtllm_nix.proxy.protocol import ChatCompletionRequest, CompletionRequest
from trtllm_nix.proxy.responses_api.protocol import SKIPPED_TOOLS_HEADER, parse_request
from trtllm_nix.proxy.responses_api.render import new_meta
from trtllm_nix.proxy.responses_api.store import (
    ResponseStore,
    SQLiteStore,
    delete_response,
    get_response,
    previous_conversation,
    resolve_references,
)
from trtllm_nix.proxy.responses_api.translate import to_chat
from trtllm_nix.proxy.served import ServedModel, ServedModels
from trtllm_nix.proxy.serving.chat import ChatRenderer, prepare_chat
from trtllm_nix.proxy.serving.choices import complete_all, stream_all
from trtllm_nix.proxy.serving.common import off_loop
from trtllm_nix.proxy.serving.completion import TextRenderer, prepare_completion, prompt_count
from trtllm_nix.proxy.serving.encoding import ResponseIdentity
from trtllm_nix.proxy.serving.responses import ResponsesJob, prepare_responses
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.proxy.unicode_check import refuse_lone_surrogates


@dataclass
class AppState:
    settings: ProxySettings
    models: ServedModels
    lifecycle: Lifecycle
    api_key: ApiKey
    metrics: ProxyMetrics
    signer: ThinkingSigner  # of /v1/messages thinking blocks (messages_api.signing)
    responses: ResponseStore = field(default_factory=SQLiteStore)  # shared by workers: see responses_api.store


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.proxy
    return state


def require_api_key(request: Request, authorization: str | None = Header(default=None)) -> None:
    get_state(request).api_key.check(authorization)


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def arrived(request: Request) -> float:
    value = request.scope.get("state", {}).get("arrived")
    return float(value) if value is not None else time.perf_counter()


# the key first (401 before anything about the body), then text that is not Unicode (400 naming the field)
v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key), Depends(refuse_lone_surrogates)])
meta = APIRouter()


def _ready(state: AppState, model: ServedModel) -> None:
    """503 at once, before any work, when none of the model's upstreams is ready (what /health/ready says): a
    request sent to a Triton that is down or hung would wait its whole deadline, and a stream would start 200."""
    ready = getattr(model.upstream, "any_ready", None)
    if ready is not None and not ready():
        state.metrics.upstream_errors.labels(kind="unavailable").inc()
        raise unavailable("the model server is not ready; try again later")


def _events(
    state: AppState, model: ServedModel, upstream: UpstreamRequest, stops: list[str], parser: SpanParser, since: float
) -> AsyncIterator[OutputEvent]:
    state.metrics.prompt_tokens.inc(len(upstream.input_ids))
    generation = generate(model.upstream, upstream, model.files, stops)
    return parse(state.lifecycle.metered(generation, since), parser)


@v1.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    state = get_state(request)
    model = state.models.get(body.model)
    _ready(state, model)
    rid = request_id(request)
    with state.lifecycle.admitted(body.n, "n", f"n is {body.n}") as ticket:
        job = await prepare_chat(model, body, rid, state.settings.log_prompts)
        identity = ResponseIdentity("chat", model.name)
        top = body.top_logprobs or 0
        renderers = [
            ChatRenderer(model.files, identity, body.logprobs, model.reasoning_alias, job.single_call, index, top)
            for index in range(len(job.upstreams()))
        ]
        since = arrived(request)

        def events() -> list[AsyncIterator[OutputEvent]]:
            return [_events(state, model, upstream, job.stops, job.parser(), since) for upstream in job.upstreams()]

        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return state.lifecycle.respond_stream(rid, stream_all(renderers, events(), include_usage, body.n), ticket)
        return await state.lifecycle.respond_once(
            request, rid, lambda: complete_all(renderers, events(), body.n), ticket
        )


@v1.post("/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> Response:
    state = get_state(request)
    model = state.models.get(body.model)
    _ready(state, model)
    rid = request_id(request)
    prompts = prompt_count(body)
    what = f"{prompts} prompts x n {body.n}" if prompts > 1 else f"n is {body.n}"
    with state.lifecycle.admitted(prompts * body.n, "n" if body.n > 1 else "prompt", what) as ticket:
        job = await prepare_completion(model, body, rid, state.settings.log_prompts)
        identity = ResponseIdentity("text", model.name)
        renderers = [
            TextRenderer(model.files, identity, body.logprobs, choice.echo, index, choice.prompt_ids)
            for index, choice in enumerate(job.choices)
        ]
        since = arrived(request)

        def events() -> list[AsyncIterator[OutputEvent]]:
            return [_events(state, model, choice.upstream, job.stops, job.parser(), since) for choice in job.choices]

        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return state.lifecycle.respond_stream(rid, stream_all(renderers, events(), include_usage, job.n), ticket)
        return await state.lifecycle.respond_once(
            request, rid, lambda: complete_all(renderers, events(), job.n), ticket
        )


@v1.post("/responses", response_model=None)
async def responses(request: Request) -> Response:
    state = get_state(request)
    try:
        raw = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None
    body = parse_request(raw)
    model = state.models.get(body.model)
    _ready(state, model)
    rid = request_id(request)
    with state.lifecycle.admitted() as ticket:
        body, previous = await off_loop(
            lambda: (
                resolve_references(state.responses, body),
                previous_conversation(state.responses, body.previous_response_id),
            )
        )
        plan = to_chat(body, previous)
        job = await prepare_responses(model, body, plan, rid, state.settings.log_prompts)
        answer = ResponsesJob(
            new_meta(model.name, body), plan, state.responses, body.store, lambda e: state.lifecycle.error(e, rid)
        )
        since = arrived(request)
        skipped = body.skipped_tools()
        headers = {SKIPPED_TOOLS_HEADER: ", ".join(skipped)} if skipped else None
        if body.stream:
            events = _events(state, model, job.upstream, job.stops, job.parser(), since)
            return state.lifecycle.respond_stream(rid, answer.stream(events), ticket, headers)
        return await state.lifecycle.respond_once(
            request,
            rid,
            lambda: answer.complete(_events(state, model, job.upstream, job.stops, job.parser(), since)),
            ticket,
            headers,
        )


@v1.get("/responses/{response_id}")
async def fetch_response(response_id: str, request: Request) -> JSONResponse:
    store = get_state(request).responses
    return JSONResponse(await off_loop(lambda: get_response(store, response_id)))


@v1.delete("/responses/{response_id}")
async def remove_response(response_id: str, request: Request) -> JSONResponse:
    store = get_state(request).responses
    return JSONResponse(await off_loop(lambda: delete_response(store, response_id)))


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
        check = getattr(model.upstream, "ready", None)
        ready_now = (await check() if check is not None else True) and ready_now
        status = getattr(model.upstream, "status", None)
        upstreams += [{**s, "model": model.name} for s in status()] if status is not None else []
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
