"""The app factory: served models, routes, middleware, error handlers, and the lifespan that owns the upstreams.

``create_app(settings, upstream=...)`` takes any ``TokenSource`` in place of the Triton pool (as httpx takes a
transport), so the lifecycle, renderers and parsers can be tested in milliseconds with a fake upstream. Each served
model's generations go through one ``GenerationBackend`` (``llm.backend``) with its lane's declared capabilities
(``llm.lanes``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from trtllm_nix import __version__
from trtllm_nix.errors import UserError
from trtllm_nix.llm.generation import TokenStreamBackend
from trtllm_nix.llm.lanes import engine_lane, pytorch_lane
from trtllm_nix.llm.limits import context_length, gathered_logits, guided_decoding_enabled, read_engine_limits
from trtllm_nix.llm.model_files import ChatTemplate, ModelFiles
from trtllm_nix.llm.pool import UpstreamPool
from trtllm_nix.llm.triton_client import TokenSource, UpstreamChunk, UpstreamRequest, UpstreamUnavailable
from trtllm_nix.proxy import messages_routes, routes, tokenize
from trtllm_nix.proxy.admission import Admission, ApiKey
from trtllm_nix.proxy.api_errors import install_error_handlers
from trtllm_nix.proxy.formats.registry import reasoning_format, tool_call_format
from trtllm_nix.proxy.guide_compiler import COMPILER
from trtllm_nix.proxy.http_limits import STATE_KEY, HttpLimits
from trtllm_nix.proxy.lifecycle import Lifecycle
from trtllm_nix.proxy.messages_api.signing import signer_for
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.middleware import ProxyMiddleware
from trtllm_nix.proxy.openapi_doc import install_openapi
from trtllm_nix.proxy.responses_api.store import open_store
from trtllm_nix.proxy.served import ServedModel, ServedModels
from trtllm_nix.proxy.settings import ModelSpec, ProxySettings
from trtllm_nix.proxy.state import AppState

LOG = logging.getLogger("trtllm_nix.proxy")
# What the Anthropic SDKs send from a browser (/v1/messages): the key, the version, betas, the SDK's opt-in
ANTHROPIC_HEADERS = ("X-Api-Key", "Anthropic-Version", "Anthropic-Beta", "Anthropic-Dangerous-Direct-Browser-Access")


class _NotStarted:
    url = "(not started)"

    def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        raise UpstreamUnavailable("the proxy's upstreams start with the server (its lifespan)")


def _pytorch_lane_info() -> tuple[Any, Any]:
    """The PyTorch lane's client (``smg-grpc-proto``, the ``pytorch-lane`` extra): imported only by a proxy that
    serves that lane, so the engine lane runs without it (the Nix package carries it: nix/smg-grpc-proto.nix)."""
    try:
        from trtllm_nix.llm.trtllm_grpc_info import read_server_info, served_limits
    except ImportError as error:
        raise UserError(
            f"--upstream grpc-trtllm://... needs smg-grpc-proto ({error}); install trtllm-nix[pytorch-lane] "
            "(the Nix package has it)"
        ) from error
    return read_server_info, served_limits


def _served(spec: ModelSpec, settings: ProxySettings, upstream: TokenSource | None) -> tuple[ServedModel, ModelSpec]:
    files = ModelFiles.load(spec.tokenizer)
    if spec.upstream is not None:  # the PyTorch lane: limits from the servers, top-k logprobs from them, no logits
        read_server_info, served_limits = _pytorch_lane_info()
        infos = [read_server_info(target, settings.upstream_wait) for target in spec.upstream.targets]
        engine = served_limits(infos)
        if engine is None and spec.max_model_len is None:
            raise UserError(
                f"the TrtllmService at {spec.upstream} reports no max_seq_len (trtllm-serve without --max_seq_len); "
                "pass --max-model-len"
            )
        capabilities = pytorch_lane(spec.upstream.guided_decoding)
    elif spec.model_repository is None:  # the engine lane without a repository: no limits, logits or guides
        engine, capabilities = None, engine_lane(False, False, False)
    else:
        repository = spec.model_repository
        engine = read_engine_limits(repository)
        capabilities = engine_lane(*gathered_logits(repository), guided_decoding_enabled(repository))
    model = ServedModel(
        name=spec.name,
        files=files,
        template=ChatTemplate(files.chat_template) if files.chat_template else None,
        context_length=context_length(spec.max_model_len, engine, files.context_length),
        backend=TokenStreamBackend(upstream if upstream is not None else _NotStarted(), files, capabilities),
        reasoning=reasoning_format(settings.reasoning_parser, files),
        tool_calls=tool_call_format(settings.tool_call_parser),
        reasoning_alias=settings.reasoning_alias,
        default_chat_template_kwargs=settings.default_chat_template_kwargs,
    )
    if model.tool_calls is not None and model.template is not None and not model.template.describes_tools:
        LOG.warning(
            "model %s: its chat template has no place for tools; a request's tools are not shown to the model "
            "(/v1/models says capabilities.tools false)",
            model.name,
        )
    return model, spec


def create_app(settings: ProxySettings, upstream: TokenSource | Mapping[str, TokenSource] | None = None) -> FastAPI:
    """``upstream``: one source for the main model, or one per served model name; None: Triton pools."""
    main = ModelSpec(
        settings.model_name,
        settings.tokenizer,
        settings.triton,
        settings.triton_model,
        settings.model_repository,
        settings.max_model_len,
        settings.upstream,
    )
    given: Mapping[str, TokenSource] = (
        {} if upstream is None else upstream if isinstance(upstream, Mapping) else {settings.model_name: upstream}
    )
    served = [_served(spec, settings, given.get(spec.name)) for spec in (main, *settings.extra_models)]
    models = ServedModels([model for model, _ in served])
    metrics = ProxyMetrics()
    http_limits = HttpLimits(
        header_seconds=settings.header_timeout,
        body_seconds=settings.body_timeout,
        max_connections=settings.max_connections,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        pools: list[UpstreamPool] = []
        for model, spec in served:  # gRPC channels belong to the serving event loop: made here, not at import
            if spec.name in given:
                continue
            if spec.upstream is not None:
                timeout = settings.request_timeout
                from trtllm_nix.llm.trtllm_grpc import TrtllmGrpcUpstream  # found by _served already

                pool = UpstreamPool([TrtllmGrpcUpstream(target, timeout) for target in spec.upstream.targets])
            else:
                urls = [url.strip() for url in spec.triton.split(",") if url.strip()]
                pool = UpstreamPool.triton(urls, spec.triton_model, timeout=settings.request_timeout)
            pool.start()
            pools.append(pool)
            model.backend = TokenStreamBackend(pool, model.files, model.backend.capabilities)
        app.state.loop = asyncio.get_running_loop()
        if any(model.backend.capabilities.guided for model in models):
            await COMPILER.warm()  # before the first request, not during it (guide_compiler)
        metrics.workers_ready.set(1)
        try:
            yield {STATE_KEY: http_limits}  # uvicorn hands the lifespan state to each connection (http_limits)
        finally:
            metrics.workers_ready.set(0)
            for pool in pools:
                await pool.close()

    explorer = settings.api_key is None  # behind a key, /docs, /redoc and /openapi.json would be open to anyone
    app = FastAPI(
        title="trtllm-nix OpenAI proxy",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if explorer else None,
        redoc_url="/redoc" if explorer else None,
        openapi_url="/openapi.json" if explorer else None,
    )
    app.state.proxy = AppState(
        settings=settings,
        models=models,
        lifecycle=Lifecycle(
            Admission(settings.max_in_flight, metrics, settings.max_choices),
            metrics,
            settings.keepalive_seconds,
            settings.stall_timeout,
        ),
        api_key=ApiKey(settings.api_key, metrics),
        metrics=metrics,
        signer=signer_for(settings.api_key, settings.signing_secret),
        responses=open_store(
            settings.responses_store,
            settings.state_dir,
            max_bytes=settings.responses_store_bytes,
            ttl_s=settings.responses_store_ttl,
        ),
    )
    install_error_handlers(app)
    install_openapi(app, [model.name for model in models])
    app.include_router(routes.meta)
    app.include_router(routes.v1)
    app.include_router(messages_routes.router)  # Anthropic's Messages API: its own key header and error envelope
    app.include_router(tokenize.router)  # vLLM's /tokenize and /detokenize
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],  # DELETE /v1/responses/{id}
            allow_headers=["Authorization", "Content-Type", "X-Request-Id", *ANTHROPIC_HEADERS],
            expose_headers=["X-Request-Id", "Request-Id"],
        )
    app.add_middleware(ProxyMiddleware, metrics=metrics, max_body_bytes=settings.body_limit(models.max_context))
    return app
