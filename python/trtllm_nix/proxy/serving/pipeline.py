"""What every generating endpoint does around its own preparation and rendering: find the served model (503 at
once when none of its upstreams is ready), read a body the endpoint parses itself, and run one generation as
output events (the backend's events, metered, through the output parsers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi.responses import Response

from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.admission import Ticket
from trtllm_nix.proxy.api_errors import APIError, unavailable
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.parsers.base import SpanParser, parse
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.choices import ChoiceRenderer, complete_all, stream_all
from trtllm_nix.proxy.state import Call


def served_model(call: Call, name: str) -> ServedModel:
    """The model ``name`` (404 when not served); a 503 at once, before any work, when none of its upstreams is ready
    (what /health/ready says): a request sent to a Triton that is down or hung would wait its whole deadline, and a
    stream would start 200."""
    model = call.state.models.get(name)
    if not model.backend.any_ready():
        call.state.metrics.upstream_errors.labels(kind="unavailable").inc()
        raise unavailable("the model server is not ready; try again later")
    return model


async def json_body(call: Call) -> Any:
    """The body of an endpoint that parses its own (to answer in its API's words)."""
    try:
        return await call.request.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None


def generation(
    call: Call, model: ServedModel, request: UpstreamRequest, stops: Sequence[str], parser: SpanParser
) -> AsyncIterator[OutputEvent]:
    """One generation's output events: ``model.backend`` generates, the lifecycle meters, ``parser`` parses."""
    call.state.metrics.prompt_tokens.inc(len(request.input_ids))
    events = model.backend.generate(request, stops)
    return parse(call.state.lifecycle.metered(events, call.arrived), parser)


async def respond_choices(
    call: Call,
    ticket: Ticket,
    renderers: Sequence[ChoiceRenderer],
    events: Callable[[], list[AsyncIterator[OutputEvent]]],
    stream: bool,
    include_usage: bool,
    n: int,
) -> Response:
    """The answer of an endpoint whose choices render side by side (chat, completions): streamed (interleaved,
    usage when asked, ``[DONE]``) or whole; ``events`` starts the generations once the answer starts."""
    lifecycle = call.state.lifecycle
    if stream:
        return lifecycle.respond_stream(call.request_id, stream_all(renderers, events(), include_usage, n), ticket)
    return await lifecycle.respond_once(
        call.request, call.request_id, lambda: complete_all(renderers, events(), n), ticket
    )
