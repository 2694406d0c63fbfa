"""Server-sent events with keep-alive comments. The response starts (status and headers) at once and keep-alives
run from the first moment, so a long queue or prefill never looks dead to a reverse proxy or a client.

Slow readers: events wait in a bounded queue (``QUEUE_EVENTS``), so a client that reads slower than the model writes
holds back the upstream stream instead of growing the proxy's memory; a write that cannot be delivered for
``stall_timeout`` seconds (the client stopped reading; OpenEngine's servers use 30 s) ends the response, which
cancels the upstream request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
QUEUE_EVENTS = 64  # events waiting for the client: enough to batch a burst, small enough to bound memory
LOG = logging.getLogger("trtllm_nix.proxy")


class ClientStalled(Exception):
    """Nothing could be written to the client for the stall timeout."""


class _EventStream(StreamingResponse):
    """A streaming response that runs ``on_close`` however it ends, even if its body was never iterated."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        headers: dict[str, str],
        on_close: Callable[[], None],
        stall_timeout: float,
    ) -> None:
        super().__init__(events, media_type="text/event-stream", headers=headers)
        self._events = events
        self._on_close = on_close
        self._stall_timeout = stall_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def timed_send(message: Message) -> None:
            try:
                async with asyncio.timeout(self._stall_timeout):
                    await send(message)
            except TimeoutError:
                raise ClientStalled() from None

        try:
            await super().__call__(scope, receive, timed_send)
        except ClientStalled:
            LOG.warning("a client read nothing for %.0f s: its stream is cut off", self._stall_timeout)
        finally:
            try:  # closed explicitly (not left to the garbage collector), so the upstream request ends now
                aclose = getattr(self._events, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                self._on_close()


def sse_response(
    events: AsyncIterator[bytes],
    keepalive_seconds: float,
    headers: dict[str, str],
    on_close: Callable[[], None],
    stall_timeout: float = 30.0,
    keepalive: bytes = KEEPALIVE,
) -> StreamingResponse:
    events_with_keepalive = with_keepalive(events, keepalive_seconds, keepalive)
    return _EventStream(events_with_keepalive, {**SSE_HEADERS, **headers}, on_close, stall_timeout)


async def with_keepalive(
    events: AsyncIterator[bytes], interval: float, keepalive: bytes = KEEPALIVE
) -> AsyncIterator[bytes]:
    """Pass ``events`` through, several at once when several are ready (one write instead of many); during a
    silence longer than ``interval`` send ``keepalive`` (a comment line; Anthropic's ``ping`` event on
    ``/v1/messages``).

    A pump task reads ``events`` into a queue, so no task is created per event. Closing this iterator cancels the
    pump, which closes ``events`` and so cancels the upstream request.
    """
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_EVENTS)
    failure: list[BaseException] = []

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)  # waits while the client is behind: the upstream waits with it
        except Exception as error:  # handed to the response side, which raises it there
            failure.append(error)
        await queue.put(None)

    last_sent = time.monotonic()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(max(interval - (time.monotonic() - last_sent), interval / 10))
            if time.monotonic() - last_sent >= interval and queue.empty():
                queue.put_nowait(keepalive)

    pumping = asyncio.ensure_future(pump())
    ticking = asyncio.ensure_future(ticker())
    try:
        while True:
            first = queue.get_nowait() if not queue.empty() else await queue.get()
            last_sent = time.monotonic()
            batch = [first]
            while not queue.empty() and batch[-1] is not None:
                batch.append(queue.get_nowait())
            ended = batch[-1] is None
            data = b"".join(item for item in batch if item is not None)
            if data:
                yield data
            if ended:
                if failure:
                    raise failure[0]
                return
    finally:
        ticking.cancel()
        if not pumping.done():
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
