"""Run the proxy on a real port inside this process (a thread with its own event loop): tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import uvicorn

from trtllm_nix.errors import ServerError
from trtllm_nix.llm.triton_client import TokenSource
from trtllm_nix.proxy.app import create_app
from trtllm_nix.proxy.settings import ProxySettings


class ProxyThread:
    def __init__(
        self, settings: ProxySettings, start_timeout: float = 30.0, upstream: TokenSource | None = None
    ) -> None:
        self.settings = settings
        self._app = create_app(settings, upstream)
        config = uvicorn.Config(
            self._app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="proxy", daemon=True)
        self._start_timeout = start_timeout

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServerError(f"the proxy did not start on {self.base_url}")
            if time.monotonic() > deadline:
                raise ServerError(f"the proxy was not up after {self._start_timeout:.0f} s")
            time.sleep(0.01)

    def task_count(self) -> int:
        """Tasks alive on the proxy's event loop (leak checks in tests)."""
        loop: asyncio.AbstractEventLoop = self._app.state.loop

        async def count() -> int:
            return len(asyncio.all_tasks())

        return asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=10)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> ProxyThread:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
