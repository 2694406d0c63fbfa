"""D14: the upstream pool's health watcher against a real tritonserver."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from trtllm_nix.llm.pool import UpstreamPool

from tests.helpers import RunningTriton


def test_the_health_watcher_survives_a_check_that_raises(
    scripted_triton: RunningTriton, caplog: pytest.LogCaptureFixture
) -> None:
    """A check failing with something other than an RPC error (here a closed channel's UsageError) must not end
    the watcher: the members after it still come back once Triton answers."""

    async def run() -> tuple[bool, bool]:
        url = scripted_triton.server.grpc_url
        pool = UpstreamPool([url, url], "tensorrt_llm", recheck_seconds=0.05)
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
