"""One generation: token ids from Triton become text deltas, with stop strings, end ids and finish reasons."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from trtllm_nix.proxy.model_files import ModelFiles
from trtllm_nix.proxy.text_stream import IncrementalDetokenizer, StopMatcher
from trtllm_nix.proxy.upstream import TokenSource, UpstreamRequest

if TYPE_CHECKING:  # the Triton-side ensemble model uses this module without the proxy's metrics
    from trtllm_nix.proxy.metrics import ProxyMetrics

FinishReason = Literal["stop", "length"]


@dataclass
class Outcome:
    """Filled in while the generation runs; complete once its iterator is exhausted."""

    prompt_tokens: int
    arrived: float = field(default_factory=time.perf_counter)
    completion_tokens: int = 0
    finish_reason: FinishReason | None = None
    stop_string: str | None = None
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    first_token_at: float | None = None
    last_token_at: float | None = None
    cancelled: bool = False


async def generate_text(
    upstream: TokenSource,
    request: UpstreamRequest,
    files: ModelFiles,
    stops: list[str],
    outcome: Outcome,
    metrics: ProxyMetrics | None = None,
) -> AsyncIterator[str]:
    """Yield non-empty text deltas; an early exit (stop string, closed iterator) cancels the upstream request."""
    detokenizer = IncrementalDetokenizer(files.tokenizer)
    matcher = StopMatcher(stops)
    end_ids = set(files.end_token_ids) if request.end_id >= 0 else set()
    ended_by_end_id = False
    stream = upstream.generate(request)
    try:
        async for chunk in stream:
            ids = chunk.token_ids
            cut = next((i for i, token in enumerate(ids) if token in end_ids), None)
            if cut is not None:
                ids, ended_by_end_id = ids[:cut], True
            if ids:
                _record_timing(outcome, len(ids), metrics)
                outcome.completion_tokens += len(ids)
                outcome.token_ids.extend(ids)
                if chunk.logprobs is not None:
                    outcome.logprobs.extend(chunk.logprobs[: len(ids)])
                text = matcher.feed(detokenizer.push(ids))
                if text:
                    yield text
                if matcher.matched is not None:
                    outcome.finish_reason, outcome.stop_string = "stop", matcher.matched
                    return
            if ended_by_end_id:
                break
    except (asyncio.CancelledError, GeneratorExit):
        outcome.cancelled = True
        if metrics is not None:
            metrics.cancellations.inc()
        raise
    finally:
        await stream.aclose()
        if metrics is not None:
            metrics.completion_tokens.inc(outcome.completion_tokens)
            metrics.request_duration.observe(time.perf_counter() - outcome.arrived)
    tail = matcher.feed(detokenizer.finish())
    if matcher.matched is not None:
        outcome.finish_reason, outcome.stop_string = "stop", matcher.matched
    else:
        tail += matcher.flush()
        hit_limit = outcome.completion_tokens >= request.max_new_tokens and not ended_by_end_id
        outcome.finish_reason = "length" if hit_limit else "stop"
    if tail:
        yield tail


def _record_timing(outcome: Outcome, count: int, metrics: ProxyMetrics | None) -> None:
    now = time.perf_counter()
    if outcome.first_token_at is None:
        outcome.first_token_at = now
        if metrics is not None:
            metrics.time_to_first_token.observe(now - outcome.arrived)
    elif metrics is not None and outcome.last_token_at is not None:
        gap = (now - outcome.last_token_at) / count
        for _ in range(count):
            metrics.inter_token_latency.observe(gap)
    outcome.last_token_at = now
