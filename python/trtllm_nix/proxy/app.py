"""The app factory: routes, middleware, error handlers, and the lifespan that owns the Triton channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from trtllm_nix import __version__
from trtllm_nix.proxy import routes_chat, routes_completions, routes_meta
from trtllm_nix.proxy.api_errors import install_error_handlers
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.middleware import ProxyMiddleware
from trtllm_nix.proxy.model_files import ChatTemplate, ModelFiles
from trtllm_nix.proxy.pool import UpstreamPool
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.proxy.state import ProxyState


def create_app(settings: ProxySettings) -> FastAPI:
    files = ModelFiles.load(settings.tokenizer, settings.max_model_len)
    template = ChatTemplate(files.chat_template) if files.chat_template else None
    metrics = ProxyMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        urls = [url.strip() for url in settings.triton.split(",") if url.strip()]
        upstream = UpstreamPool(urls, settings.triton_model, timeout=settings.request_timeout)
        upstream.start()
        app.state.proxy = ProxyState(
            settings=settings, files=files, template=template, upstream=upstream, metrics=metrics
        )
        app.state.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            await upstream.close()

    app = FastAPI(title="trtllm-nix OpenAI proxy", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(routes_meta.router)
    app.include_router(routes_chat.router)
    app.include_router(routes_completions.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id"],
        )
    app.add_middleware(ProxyMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app
