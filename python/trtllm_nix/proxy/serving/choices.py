"""Several choices in one answer (``n`` > 1, or several prompts): one upstream request per choice, run side by
side, their chunks interleaved as they come (each carries its choice's index), their usage summed.

The pinned TensorRT-LLM backend has ``num_return_sequences``, the reference backend does not: parallel requests
work with both (and give a choice per sampling seed, reproducible when the client sends one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from fastapi.responses import Response

from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.admission import Ticket
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.serving.encoding import ResponseIdentity, summed_usage
from trtllm_nix.proxy.sse import DONE, QUEUE_EVENTS
from trtllm_nix.proxy.state import Call

T = TypeVar("T")
_END = object()


class ChoiceRenderer(Protocol):
    """One choice's renderer (chat or text): its chunks carry its index, ``finish`` is set once it has ended."""

    identity: ResponseIdentity
    finish: Finish | None

    def stream(self, events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]: ...

    async def choice(self, events: AsyncIterator[OutputEvent]) -> dict[str, Any]: ...


async def all_of(works: list[Awaitable[T]]) -> list[T]:
    """Every result, in order; the first failure cancels the others."""
    tasks = [asyncio.ensure_future(work) for work in works]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()


async def _pump(stream: AsyncIterator[bytes], queue: asyncio.Queue[object]) -> None:
    try:
        async for chunk in stream:
            await queue.put(chunk)
        await queue.put(_END)
    except Exception as error:  # handed to the reader, which raises it
        await queue.put(error)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def interleaved(streams: list[AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
    """The chunks of every stream as each comes; the first failure ends them all (closing cancels the rest)."""
    if len(streams) == 1:
        try:
            async for chunk in streams[0]:
                yield chunk
        finally:
            await streams[0].aclose()  # type: ignore[attr-defined]
        return
    queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_EVENTS)  # a slow reader holds back every choice
    tasks = [asyncio.ensure_future(_pump(stream, queue)) for stream in streams]
    remaining = len(tasks)
    try:
        while remaining:
            item = await queue.get()
            if item is _END:
                remaining -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                assert isinstance(item, bytes)
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


Generations = Callable[[], list[AsyncIterator[OutputEvent]]]  # starts each choice's generation, when called


async def complete_all(renderers: Sequence[ChoiceRenderer], events: Generations, n: int) -> dict[str, Any]:
    pairs = zip(renderers, events(), strict=True)
    choices = await all_of([renderer.choice(stream) for renderer, stream in pairs])
    finishes = [renderer.finish for renderer in renderers if renderer.finish is not None]
    return renderers[0].identity.envelope(choices, summed_usage(finishes, n))


async def stream_all(
    renderers: Sequence[ChoiceRenderer], events: Generations, include_usage: bool, n: int
) -> AsyncIterator[bytes]:
    streams = [renderer.stream(stream) for renderer, stream in zip(renderers, events(), strict=True)]
    merged = interleaved(streams)
    try:
        async for chunk in merged:
            yield chunk
    finally:
        await merged.aclose()  # type: ignore[attr-defined]
    if include_usage:
        finishes = [renderer.finish for renderer in renderers if renderer.finish is not None]
        yield renderers[0].identity.usage_chunk(summed_usage(finishes, n))
    yield DONE


async def respond_choices(
    call: Call,
    ticket: Ticket,
    renderers: Sequence[ChoiceRenderer],
    events: Generations,
    stream: bool,
    include_usage: bool,
    n: int,
) -> Response:
    """The answer of an endpoint whose choices render side by side (chat, completions): streamed (interleaved,
    usage when asked, ``[DONE]``) or whole; ``events`` starts the generations once the answer starts."""
    lifecycle = call.state.lifecycle
    if stream:
        return lifecycle.respond_stream(call.request_id, stream_all(renderers, events, include_usage, n), ticket)
    return await lifecycle.respond_once(
        call.request, call.request_id, lambda: complete_all(renderers, events, n), ticket
    )
