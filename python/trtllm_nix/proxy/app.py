"""The app factory: served models, routes, middleware, error handlers, and the lifespan that owns the upstreams.

``create_app(settings, upstream=...)`` takes any ``TokenSource`` in place of the Triton pool (as httpx takes a
transport), so the lifecycle, renderers and parsers can be tested in milliseconds with a fake upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from trtllm_nix import __version__
from trtllm_nix.llm.limits import context_length, read_engine_limits
from trtllm_nix.llm.model_files import ChatTemplate, ModelFiles
from trtllm_nix.llm.pool import UpstreamPool
from trtllm_nix.llm.triton_client import TokenSource, UpstreamChunk, UpstreamRequest, UpstreamUnavailable
from trtllm_nix.proxy import routes
from trtllm_nix.proxy.admission import Admission, ApiKey
from trtllm_nix.proxy.api_errors import install_error_handlers
from trtllm_nix.proxy.lifecycle import Lifecycle
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.middleware import ProxyMiddleware
from trtllm_nix.proxy.served import ServedModel, ServedModels
from trtllm_nix.proxy.settings import ProxySettings


class _NotStarted:
    url = "(not started)"

    def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        raise UpstreamUnavailable("the proxy's upstreams start with the server (its lifespan)")


def reasoning_enabled(choice: str, files: ModelFiles) -> bool:
    if choice == "auto":
        return {"<think>", "</think>"} <= files.special_ids.keys()
    return choice == "qwen3"


def create_app(settings: ProxySettings, upstream: TokenSource | None = None) -> FastAPI:
    files = ModelFiles.load(settings.tokenizer)
    engine = read_engine_limits(settings.model_repository) if settings.model_repository else None
    context = context_length(settings.max_model_len, engine, files.context_length)
    template = ChatTemplate(files.chat_template) if files.chat_template else None
    metrics = ProxyMetrics()
    source: TokenSource = upstream if upstream is not None else _NotStarted()
    model = ServedModel(
        name=settings.model_name,
        files=files,
        template=template,
        context_length=context,
        upstream=source,
        reasoning=reasoning_enabled(settings.reasoning_parser, files),
        reasoning_alias=settings.reasoning_alias,
        default_chat_template_kwargs=settings.default_chat_template_kwargs,
    )
    models = ServedModels([model])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: UpstreamPool | None = None
        if upstream is None:  # gRPC channels belong to the serving event loop: made here, not at import
            urls = [url.strip() for url in settings.triton.split(",") if url.strip()]
            pool = UpstreamPool(urls, settings.triton_model, timeout=settings.request_timeout)
            pool.start()
            model.upstream = pool
        app.state.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            if pool is not None:
                await pool.close()

    app = FastAPI(title="trtllm-nix OpenAI proxy", version=__version__, lifespan=lifespan)
    app.state.proxy = routes.AppState(
        settings=settings,
        models=models,
        lifecycle=Lifecycle(Admission(settings.max_in_flight, metrics), metrics, settings.keepalive_seconds),
        api_key=ApiKey(settings.api_key, metrics),
        metrics=metrics,
    )
    install_error_handlers(app)
    app.include_router(routes.meta)
    app.include_router(routes.v1)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id"],
        )
    app.add_middleware(ProxyMiddleware, metrics=metrics, max_body_bytes=settings.body_limit(models.max_context))
    return app
