"""One request's life, the same for every generating endpoint: admission, the deadline, the client leaving, and
errors mapped to OpenAI envelopes (a status before the answer starts, an error event and ``[DONE]`` after)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from trtllm_nix.llm.backend import GenerationBackend
from trtllm_nix.llm.events import Delta, Finish, GenerationEvent
from trtllm_nix.llm.triton_client import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from trtllm_nix.proxy.admission import Admission, Ticket
from trtllm_nix.proxy.api_errors import APIError, internal_error, unavailable, upstream_failed
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.sse import DONE, KEEPALIVE, sse_response

T = TypeVar("T")
CLIENT_CLOSED_REQUEST = 499
LOG = logging.getLogger("trtllm_nix.proxy")


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was complete."""


@dataclass
class Lifecycle:
    """What every request needs from the server: its admission limit, metrics and keep-alive interval."""

    admission: Admission
    metrics: ProxyMetrics
    keepalive_seconds: float
    stall_timeout: float = 30.0

    def error(self, error: BaseException, request_id: str) -> APIError:
        """The envelope for a failure; upstream failures and bugs are logged with the request id."""
        if isinstance(error, APIError):
            return error
        # The log has the upstream's address and gRPC text; the client gets neither (they describe the inside)
        if isinstance(error, UpstreamTimeout):
            self.metrics.upstream_errors.labels(kind="timeout").inc()
            LOG.warning("request %s: %s", request_id, error)
            message = "the model server did not finish this request in time"
            return APIError(504, message, type_="timeout_error", code="upstream_timeout")
        if isinstance(error, UpstreamUnavailable):
            self.metrics.upstream_errors.labels(kind="unavailable").inc()
            LOG.warning("request %s: %s", request_id, error)
            return unavailable("the model server is not reachable; try again later")
        if isinstance(error, UpstreamError):
            self.metrics.upstream_errors.labels(kind="error").inc()
            LOG.warning("request %s: the model server failed it: %s", request_id, error)
            return upstream_failed(f"the model server failed the request: {error}")
        LOG.error("request %s failed", request_id, exc_info=error)
        return internal_error(request_id)

    @contextlib.contextmanager
    def admitted(
        self, backend: GenerationBackend, generations: int = 1, param: str = "n", what: str = ""
    ) -> Iterator[Ticket]:
        """Admit a request before it is prepared: a 503 at once when none of the model's upstreams is ready (what
        /health/ready says; a request sent to a Triton that is down or hung would wait its whole deadline, and a
        stream would start 200), a 429 when ``generations`` more would pass the in-flight limit. The ticket goes
        back if preparing fails, else the answer (``respond_once``/``respond_stream``) gives it back when it ends."""
        if not backend.any_ready():
            self.metrics.upstream_errors.labels(kind="unavailable").inc()
            raise unavailable("the model server is not ready; try again later")
        ticket = self.admission.admit(generations, param, what)
        try:
            yield ticket
        except BaseException:
            ticket.release()
            raise

    async def respond_once(
        self,
        request: Request,
        request_id: str,
        work: Callable[[], Awaitable[Any]],
        ticket: Ticket,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A non-streamed answer (``work`` returns its JSON body); a client that leaves cancels it (499)."""
        try:
            body = await until_disconnect(request, work())
            return JSONResponse(body, headers=headers)
        except ClientDisconnected:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        except Exception as error:
            raise self.error(error, request_id) from error
        finally:
            ticket.release()

    def respond_stream(
        self,
        request_id: str,
        chunks: AsyncIterator[bytes],
        ticket: Ticket,
        headers: dict[str, str] | None = None,
        keepalive: bytes = KEEPALIVE,
    ) -> Response:
        """An SSE answer, started at once; any failure becomes an error event and ``[DONE]``, never a silent end.
        ``keepalive``: what is sent during a silence (a comment; ``/v1/messages`` sends Anthropic's ``ping``)."""

        async def guarded() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            except Exception as error:
                yield self.error(error, request_id).sse_event()
                yield DONE
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]

        return sse_response(
            guarded(), self.keepalive_seconds, headers or {}, ticket.release, self.stall_timeout, keepalive
        )

    async def metered(self, events: AsyncIterator[GenerationEvent], arrived: float) -> AsyncIterator[GenerationEvent]:
        """Pass a generation through, observing its tokens; closed before its ``Finish``: a cancellation."""
        metrics = self.metrics
        first: float | None = None
        last = arrived
        tokens = 0
        finished = False
        try:
            async for event in events:
                if isinstance(event, Delta) and event.token_ids:
                    now = time.perf_counter()
                    count = len(event.token_ids)
                    tokens += count
                    if first is None:
                        first = now
                        metrics.time_to_first_token.observe(now - arrived)
                    else:
                        for _ in range(count):
                            metrics.inter_token_latency.observe((now - last) / count)
                    last = now
                elif isinstance(event, Finish):
                    finished = True
                yield event
        except (asyncio.CancelledError, GeneratorExit):
            if not finished:
                metrics.cancellations.inc()
            raise
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            metrics.completion_tokens.inc(tokens)
            metrics.request_duration.observe(time.perf_counter() - arrived)


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run ``work``; if the client disconnects first, cancel it and raise :class:`ClientDisconnected`."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise ClientDisconnected()
    finally:
        for pending in (task, watcher):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, ClientDisconnected):
                    await pending


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
