"""Run the proxy on a real port: inside this process (a thread with its own event loop) or as a process of its
own; for tests and benchmarks."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import threading
import time
from types import TracebackType
from typing import IO

import httpx
import uvicorn
from trtllm_nix.errors import ServerError
from trtllm_nix.llm.triton_client import TokenSource
from trtllm_nix.proxy.app import create_app
from trtllm_nix.proxy.http_limits import PROTOCOL
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.reexec import module_command


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
            http=PROTOCOL,
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


class ProxyProcess:
    """The proxy as a process of its own (``trtllm-nix proxy``), so a test's clients do not share its GIL. Without
    ``--state-dir`` in ``args`` it keeps its state in a temporary folder of its own, removed at stop."""

    def __init__(self, args: list[str], port: int, start_timeout: float = 60.0) -> None:
        self._args = args
        self.port = port
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._state: tempfile.TemporaryDirectory[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerError("the proxy was not started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    def start(self) -> None:
        command = [*module_command("trtllm_nix.cli"), "proxy", "--port", str(self.port), *self._args]
        if "--state-dir" not in self._args:
            self._state = tempfile.TemporaryDirectory(prefix="trtllm-nix-proxy-state-")
            command += ["--state-dir", self._state.name]
        # a file, not a pipe: a full pipe would block the proxy's logging; closed in stop()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + self._start_timeout
        while True:
            try:
                if httpx.get(self.base_url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                self._close_log()
                raise ServerError(f"the proxy exited with {self._process.returncode}: {error[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the proxy was not up after {self._start_timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._state is not None:
            self._state.cleanup()
            self._state = None

    def __enter__(self) -> ProxyProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
