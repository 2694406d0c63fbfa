"""D14: the upstream pool's health watcher against a real tritonserver, and against a hung stand-in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator

import pytest
from trtllm_nix.llm import pool as pool_module
from trtllm_nix.llm.pool import UpstreamPool
from trtllm_nix.llm.triton_client import UpstreamChunk, UpstreamRequest, UpstreamUnavailable

from tests.helpers import RunningTriton, request


def test_the_health_watcher_survives_a_check_that_raises(
    scripted_triton: RunningTriton, caplog: pytest.LogCaptureFixture
) -> None:
    """A check failing with something other than an RPC error (here a closed channel's UsageError) must not end
    the watcher: the members after it still come back once Triton answers."""

    async def run() -> tuple[bool, bool]:
        url = scripted_triton.server.grpc_url
        pool = UpstreamPool.triton([url, url], "tensorrt_llm", recheck_seconds=0.05)
        pool.start()
        try:
            broken, other = pool.members
            await broken.upstream.close()  # its checks raise grpc's UsageError from now on
            broken.healthy = other.healthy = False
            deadline = time.monotonic() + 30
            while not other.healthy and time.monotonic() < deadline:  # noqa: ASYNC110 - a plain attribute
                await asyncio.sleep(0.05)
            return other.healthy, broken.healthy
        finally:
            await pool.close()

    with caplog.at_level(logging.WARNING):
        other_back, broken_back = asyncio.run(run())
    assert other_back
    assert not broken_back
    assert any("health check" in record.getMessage() for record in caplog.records)


class _Hung:
    """A Triton that accepts connections and answers nothing (SIGSTOPped): readiness checks and requests wait."""

    url = "10.0.0.9:8001"

    def __init__(self) -> None:
        self.checks = 0
        self.requests = 0

    async def ready(self, timeout: float = 2.0) -> bool:
        self.checks += 1
        await asyncio.sleep(timeout)  # what a check of a hung server does: its RPC deadline passes
        return False

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        self.requests += 1
        await asyncio.Event().wait()
        yield UpstreamChunk([], None, True)

    async def close(self) -> None:
        return None


def test_a_hung_upstream_is_taken_out_and_requests_fail_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hung Triton raises nothing; the watcher's readiness checks find it (HUNG_AFTER missed in a row), and from
    then on a request fails at once with UpstreamUnavailable instead of waiting its whole deadline."""
    monkeypatch.setattr(pool_module, "PROBE_SECONDS", 0.05)

    async def run() -> tuple[bool, float, int]:
        pool = UpstreamPool.triton(["127.0.0.1:1"], "tensorrt_llm", recheck_seconds=0.02)
        hung = _Hung()
        await pool.members[0].upstream.close()
        pool.members[0].upstream = hung  # type: ignore[assignment]
        pool.start()
        try:
            deadline = time.monotonic() + 30
            while pool.any_ready() and time.monotonic() < deadline:  # noqa: ASYNC110 - a plain attribute
                await asyncio.sleep(0.02)
            started = time.monotonic()
            with pytest.raises(UpstreamUnavailable):
                await asyncio.wait_for(anext(pool.generate(request([1, 2], 4))), 10)
            return pool.any_ready(), time.monotonic() - started, hung.requests
        finally:
            await pool.close()

    ready, took, requests = asyncio.run(run())
    assert not ready
    assert took < 1
    assert requests == 0
