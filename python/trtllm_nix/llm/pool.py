"""Several upstreams (one per GPU group or machine, each its own TP world): Tritons, or TensorRT-LLM
``TrtllmService`` servers (``llm.trtllm_grpc``). Each request goes to the ready
upstream with the fewest requests in flight; an upstream that fails is taken out of rotation and put back once its
readiness check passes again. A request that fails before its first token is tried on the next upstream, so no
request is lost that had not started streaming."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from trtllm_nix.llm.triton_client import TritonUpstream
from trtllm_nix.llm.upstream_types import Upstream, UpstreamChunk, UpstreamRequest, UpstreamUnavailable

LOG = logging.getLogger("trtllm_nix.llm.pool")


@dataclass
class _Member:
    upstream: Upstream
    in_flight: int = 0
    healthy: bool = True
    missed: int = 0  # readiness checks missed in a row while healthy (HUNG_AFTER of them: out of rotation)


HUNG_AFTER = 3  # a healthy member that misses this many readiness checks in a row (a hung Triton) is taken out
PROBE_SECONDS = 3.0  # how long a readiness check of a healthy member may take (a loaded host answers late, not never)


class UpstreamPool:
    def __init__(self, upstreams: Sequence[Upstream], recheck_seconds: float = 1.0) -> None:
        self.members = [_Member(upstream) for upstream in upstreams]
        self._recheck = recheck_seconds
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    def triton(
        cls, urls: list[str], model: str, timeout: float | None = None, recheck_seconds: float = 1.0
    ) -> UpstreamPool:
        return cls([TritonUpstream(url, model, timeout) for url in urls], recheck_seconds)

    @property
    def url(self) -> str:
        return ",".join(m.upstream.url for m in self.members)

    def start(self) -> None:
        self._watcher = asyncio.ensure_future(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for member in self.members:
            await member.upstream.close()

    async def ready(self) -> bool:
        """True when at least one upstream is ready (and so can take requests)."""
        results = await asyncio.gather(*(m.upstream.ready() for m in self.members))
        for member, ok in zip(self.members, results, strict=True):
            member.healthy = ok
        return any(results)

    def status(self) -> list[dict[str, object]]:
        return [{"url": m.upstream.url, "healthy": m.healthy, "in_flight": m.in_flight} for m in self.members]

    def any_ready(self) -> bool:
        """Whether any upstream is in rotation now (no call: what the last checks and requests found)."""
        return any(m.healthy for m in self.members)

    def _choose(self, tried: set[int]) -> _Member | None:
        """The ready member with the fewest in flight. None when none is ready: the request fails at once (503)
        rather than waiting its whole deadline on a Triton known to be down or hung; the watcher puts members
        back within a second of their check passing again."""
        candidates = [m for i, m in enumerate(self.members) if i not in tried and m.healthy]
        return min(candidates, key=lambda m: m.in_flight) if candidates else None

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        tried: set[int] = set()
        while True:
            member = self._choose(tried)
            if member is None:
                raise UpstreamUnavailable(f"no upstream is ready ({self.url})")
            tried.add(self.members.index(member))
            member.in_flight += 1
            started = False
            stream = member.upstream.generate(request)
            try:
                async for chunk in stream:
                    started = started or bool(chunk.token_ids)
                    yield chunk
                return
            except UpstreamUnavailable:
                member.healthy = False
                if started or len(tried) == len(self.members):
                    raise
            finally:
                member.in_flight -= 1
                await stream.aclose()

    async def _watch(self) -> None:
        """Put failed members back once their readiness check passes, and take out healthy ones that miss
        ``HUNG_AFTER`` checks in a row (a hung Triton answers no request, and raises nothing either); a check that
        raises (anything but an RPC error, which counts as not ready) leaves its member out and the watcher
        running."""
        while True:
            await asyncio.sleep(self._recheck)
            await asyncio.gather(*(self._check(member) for member in self.members))

    async def _check(self, member: _Member) -> None:
        try:
            if not member.healthy:
                member.healthy = await member.upstream.ready(timeout=self._recheck)
                member.missed = 0
                return
            ok = await member.upstream.ready(timeout=PROBE_SECONDS)
            member.missed = 0 if ok else member.missed + 1
            if member.missed >= HUNG_AFTER:
                LOG.warning("upstream %s missed %d readiness checks: out of rotation", member.upstream.url, HUNG_AFTER)
                member.healthy, member.missed = False, 0
        except Exception as error:  # one member's broken check must not stop the others'
            LOG.warning("health check of upstream %s failed: %r", member.upstream.url, error)
            member.healthy = False
