"""Helpers for tests that talk to the real tritonserver: clients, condition waits, stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamChunk, UpstreamRequest

if TYPE_CHECKING:  # the testkit, imported where used: the Nix checks' tests load this module without it
    from trtllm_nix_testkit.triton_server import TritonServer


@dataclass
class RunningTriton:
    server: TritonServer
    stats_file: Path

    def stats(self) -> dict[str, int]:
        from trtllm_nix_testkit.reference.stats import read_stats

        return read_stats(self.stats_file)

    def last_request(self) -> dict[str, object]:
        from trtllm_nix_testkit.reference.stats import read_last_request

        return read_last_request(self.stats_file)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds (condition-based sync, never a blind sleep); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def request(ids: list[int], max_new_tokens: int, **fields: object) -> UpstreamRequest:
    base: dict[str, object] = {"input_ids": ids, "max_new_tokens": max_new_tokens, "end_id": 151645, "pad_id": 151643}
    base.update(fields)
    return UpstreamRequest(**base)  # type: ignore[arg-type]


async def collect(url: str, req: UpstreamRequest) -> list[UpstreamChunk]:
    upstream = TritonUpstream(url)
    try:
        return [chunk async for chunk in upstream.generate(req)]
    finally:
        await upstream.close()


def generate(url: str, req: UpstreamRequest) -> list[UpstreamChunk]:
    return asyncio.run(collect(url, req))


def tokens_of(chunks: list[UpstreamChunk]) -> list[int]:
    return [token for chunk in chunks for token in chunk.token_ids]
