"""One generation: token ids from Triton become text deltas, with stop strings, end ids and finish reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from trtllm_nix.proxy.model_files import ModelFiles
from trtllm_nix.proxy.text_stream import IncrementalDetokenizer, StopMatcher
from trtllm_nix.proxy.upstream import TritonUpstream, UpstreamRequest

FinishReason = Literal["stop", "length"]


@dataclass
class Outcome:
    """Filled in while the generation runs; complete once its iterator is exhausted."""

    prompt_tokens: int
    completion_tokens: int = 0
    finish_reason: FinishReason | None = None
    stop_string: str | None = None
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    first_token_at: float | None = None


async def generate_text(
    upstream: TritonUpstream, request: UpstreamRequest, files: ModelFiles, stops: list[str], outcome: Outcome
) -> AsyncIterator[str]:
    """Yield non-empty text deltas; an early exit (stop string, closed iterator) cancels the upstream request."""
    detokenizer = IncrementalDetokenizer(files.tokenizer)
    matcher = StopMatcher(stops)
    end_ids = set(files.end_token_ids)
    ended_by_end_id = False
    stream = upstream.generate(request)
    try:
        async for chunk in stream:
            ids = chunk.token_ids
            cut = next((i for i, token in enumerate(ids) if token in end_ids), None)
            if cut is not None:
                ids, ended_by_end_id = ids[:cut], True
            if ids:
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
    finally:
        await stream.aclose()
    tail = matcher.feed(detokenizer.finish())
    if matcher.matched is not None:
        outcome.finish_reason, outcome.stop_string = "stop", matcher.matched
    else:
        tail += matcher.flush()
        hit_limit = outcome.completion_tokens >= request.max_new_tokens and not ended_by_end_id
        outcome.finish_reason = "length" if hit_limit else "stop"
    if tail:
        yield tail
