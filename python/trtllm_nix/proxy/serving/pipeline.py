"""What every generating endpoint does around its own preparation and rendering: find the served model (503 at
once when none of its upstreams is ready), read a body the endpoint parses itself, and run one generation as
output events (the backend's events, metered, through the output parsers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.api_errors import APIError, unavailable
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.parsers.base import SpanParser, parse
from trtllm_nix.proxy.served import ServedModel
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
