"""One generation: token ids from Triton become ``Delta`` events (text, token ids, logprobs), then one ``Finish``.

Stop strings cut the text (and cancel the rest of the request); end ids are dropped, and the stream is read to
its final response, never cancelled once Triton has finished it (cancelling a finished stream leaks in Triton 2.51).
Prompt scoring and top-logprob alternatives (numpy over vocabulary-wide rows) run in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from trtllm_nix.llm.backend import Capabilities
from trtllm_nix.llm.decoders import IncrementalDetokenizer, StopMatcher
from trtllm_nix.llm.events import Delta, Finish, FinishReason, GenerationEvent, PromptScores, TopLogprob
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.scoring import first_end_token, generated_alternatives, score_prompt
from trtllm_nix.llm.upstream_types import TokenSource, UpstreamRequest


async def generate(
    upstream: TokenSource, request: UpstreamRequest, files: ModelFiles, stops: list[str]
) -> AsyncIterator[GenerationEvent]:
    """``Delta`` for every step that produced tokens (its text may be empty while a character or a possible stop
    string is incomplete), then exactly one ``Finish``. Closing the iterator early cancels the upstream request."""
    detokenizer = IncrementalDetokenizer(files.tokenizer)
    matcher = StopMatcher(stops)
    end_ids = set(files.end_token_ids) if request.end_id >= 0 else set()
    ended_by_end_id = False
    said: FinishReason | None = None  # the server's own finish reason, where it gives one (TrtllmService)
    completion = 0
    prompt: PromptScores | None = None
    stream = upstream.generate(request)
    try:
        async for chunk in stream:
            if chunk.context_logits is not None and prompt is None and chunk.context_logits.size:
                prompt = await asyncio.to_thread(
                    score_prompt, request.input_ids, chunk.context_logits, request.top_logprobs
                )
            said = chunk.finish_reason or said
            if ended_by_end_id:
                continue  # drain to the final response: the request is finished in Triton, never cancel it
            ids = kept = chunk.token_ids
            cut = next((i for i, token in enumerate(ids) if token in end_ids), None)
            if cut is not None:
                ids, ended_by_end_id = ids[:cut], True
                kept = kept[: cut + 1] if request.keep_end_token else ids
            if not kept:
                continue
            completion += len(kept)
            logprobs = tuple(chunk.logprobs[: len(kept)]) if chunk.logprobs is not None else None
            top: tuple[tuple[TopLogprob, ...], ...] | None = None
            if chunk.top_logprobs is not None and request.return_generation_logits:
                k = request.top_logprobs  # the server's own alternatives (TrtllmService), best first
                top = tuple(alternatives[:k] for alternatives in chunk.top_logprobs[: len(kept)])
            elif chunk.generation_logits is not None and request.return_generation_logits:
                rows = chunk.generation_logits[-len(chunk.token_ids) :]
                top = (await asyncio.to_thread(generated_alternatives, rows, request.top_logprobs))[: len(kept)]
            text = matcher.feed(detokenizer.push(ids)) if ids else ""
            yield Delta(text, tuple(kept), logprobs, top)
            if matcher.matched is not None:
                yield Finish("stop", len(request.input_ids), completion, matcher.matched, prompt)
                return  # closing the stream below cancels the rest of the request
    finally:
        await stream.aclose()
    if request.keep_end_token and completion == 0 and prompt is not None:  # ended at once, by an end token
        ended = await asyncio.to_thread(first_end_token, prompt, end_ids, request.top_logprobs)
        if ended is not None:
            token, logprob, alternatives = ended
            completion, ended_by_end_id = 1, True
            yield Delta("", (token,), (logprob,), (alternatives,) if request.return_generation_logits else None)
    tail = matcher.feed(detokenizer.finish())
    if matcher.matched is None:
        tail += matcher.flush()
    if tail:
        yield Delta(tail, ())
    reason: FinishReason = "stop"
    if matcher.matched is None and not ended_by_end_id and (said == "length" or completion >= request.max_new_tokens):
        reason = "length"
    yield Finish(reason, len(request.input_ids), completion, matcher.matched, prompt)


@dataclass(frozen=True)
class TokenStreamBackend:
    """A ``GenerationBackend`` (``llm.backend``) over a token stream: a Triton, a pool of upstreams, a
    ``TrtllmService`` or a test's scripted source. Detokenizing, stop strings and end ids are done here, prompt
    scoring and alternatives in a worker thread; ``capabilities`` says what the lane behind ``source`` can do."""

    source: TokenSource
    files: ModelFiles
    capabilities: Capabilities

    @property
    def url(self) -> str:
        return self.source.url

    def generate(self, request: UpstreamRequest, stops: Sequence[str]) -> AsyncIterator[GenerationEvent]:
        return generate(self.source, request, self.files, list(stops))

    def any_ready(self) -> bool:
        check = getattr(self.source, "any_ready", None)
        return bool(check()) if check is not None else True

    async def ready(self) -> bool:
        check = getattr(self.source, "ready", None)
        return bool(await check()) if check is not None else True

    def status(self) -> list[dict[str, object]]:
        status = getattr(self.source, "status", None)
        return list(status()) if status is not None else []


@dataclass
class Outcome:
    """What ``generate_text`` counted, complete once its iterator is exhausted (kept for the Triton-side ensemble
    model, which reads a generation as plain text)."""

    prompt_tokens: int
    completion_tokens: int = 0
    logprobs: list[float] = field(default_factory=list)


async def generate_text(
    upstream: TokenSource, request: UpstreamRequest, files: ModelFiles, stops: list[str], outcome: Outcome
) -> AsyncIterator[str]:
    """The non-empty texts of ``generate``; its tokens (as many as ``Finish`` counts) and logprobs in ``outcome``."""
    events = generate(upstream, request, files, stops)
    try:
        async for event in events:
            if isinstance(event, Finish):
                continue
            outcome.completion_tokens += len(event.token_ids)
            if event.logprobs is not None:
                outcome.logprobs.extend(event.logprobs)
            if event.text:
                yield event.text
    finally:
        await events.aclose()  # type: ignore[attr-defined]
