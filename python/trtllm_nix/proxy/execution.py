"""What every generating endpoint shares: admission, the guarded generation, error mapping, disconnects."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response

from trtllm_nix.proxy.api_errors import APIError, unavailable, upstream_failed
from trtllm_nix.proxy.generation import Outcome, generate_text
from trtllm_nix.proxy.state import ProxyState
from trtllm_nix.proxy.streaming import DONE, ClientDisconnected, sse_response, until_disconnect
from trtllm_nix.proxy.upstream import UpstreamError, UpstreamRequest, UpstreamTimeout, UpstreamUnavailable

T = TypeVar("T")
CLIENT_CLOSED_REQUEST = 499


def texts(state: ProxyState, upstream: UpstreamRequest, stops: list[str], outcome: Outcome) -> AsyncIterator[str]:
    state.metrics.prompt_tokens.inc(len(upstream.input_ids))
    return generate_text(state.upstream, upstream, state.files, stops, outcome, state.metrics)


def upstream_error(state: ProxyState, error: Exception) -> APIError:
    if isinstance(error, UpstreamTimeout):
        state.metrics.upstream_errors.labels(kind="timeout").inc()
        return APIError(504, str(error), type_="timeout_error", code="upstream_timeout")
    if isinstance(error, UpstreamUnavailable):
        state.metrics.upstream_errors.labels(kind="unavailable").inc()
        return unavailable(str(error))
    state.metrics.upstream_errors.labels(kind="error").inc()
    return upstream_failed(f"Triton failed the request: {error}")


async def respond_once(state: ProxyState, request: Request, work: Callable[[], Awaitable[Response]]) -> Response:
    """A non-streamed answer; a client that leaves cancels the generation (status 499 in the metrics)."""
    state.admit()
    try:
        return await until_disconnect(request, _mapped(state, work))
    except ClientDisconnected:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    finally:
        state.release()


async def _mapped(state: ProxyState, work: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await work()
    except (UpstreamUnavailable, UpstreamError, UpstreamTimeout) as error:
        raise upstream_error(state, error) from error


async def respond_stream(
    state: ProxyState, events: Callable[[], AsyncGenerator[bytes, None]], primed: int = 2
) -> Response:
    """An SSE answer. The first ``primed`` events (the role chunk and the first text) are produced before the
    response starts, so a Triton that is down or refuses the request still gets a proper HTTP status. Failures
    after that become an error event and ``[DONE]``, never a silent end."""
    state.admit()
    iterator = events()
    head: list[bytes] = []
    try:
        async for event in iterator:
            head.append(event)
            if len(head) >= primed:
                break
    except (UpstreamUnavailable, UpstreamError, UpstreamTimeout) as error:
        state.release()
        await iterator.aclose()
        raise upstream_error(state, error) from error
    except BaseException:
        state.release()
        await iterator.aclose()
        raise

    async def guarded() -> AsyncIterator[bytes]:
        try:
            for event in head:
                yield event
            async for event in iterator:
                yield event
        except (UpstreamUnavailable, UpstreamError, UpstreamTimeout) as error:
            yield upstream_error(state, error).sse_event()
            yield DONE
        finally:
            await iterator.aclose()

    return sse_response(guarded(), state.settings.keepalive_seconds, {}, state.release)
