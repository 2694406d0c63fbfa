"""What every generating endpoint does around its own preparation and rendering: read a body the endpoint parses
itself, and run one generation as output events (the backend's events, metered, through the output parsers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.parsers.base import SpanParser, parse
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.state import Call


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
