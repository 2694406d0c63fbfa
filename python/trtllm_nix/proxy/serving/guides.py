"""The structured-output gate: the guide a request's structured-output fields ask for (``proxy.structured``),
refused by name where the served model's backend does not enforce it, compiled off the loop within its deadline
(``proxy.guide_compiler``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.guide_compiler import COMPILER
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.structured import StructuredOutputError, constraining_fields


async def structured_guide(
    model: ServedModel,
    body: Mapping[str, Any],
    generation_prompt: str | None,
    format_param: str = "response_format",
    schema_param: str = "parameters",
) -> GuidedDecoding | None:
    """A 400 naming the field when the guide cannot be honoured exactly, or when the backend does not do guided
    decoding (never a silent fallback: trtllm-serve 1.2.1 drops response_format without a backend, we refuse). The
    capability is checked first, so a model without guided decoding compiles nothing. ``generation_prompt``: what
    the chat template added for the answer (None: a completion, no chat): on a reasoning model the guide allows a
    think block first unless that prompt already closed it (thinking switched off)."""
    asked = constraining_fields(body, format_param)
    if not asked:
        return None
    capabilities = model.backend.capabilities
    if not capabilities.guided:
        raise bad_request(
            f"{asked[0]} needs {capabilities.why_not('guided_decoding', model.name)}",
            param=asked[0],
            code="unsupported_value",
        )
    think = model.reasoning if generation_prompt is not None else None
    if think is not None and think.closed_by(generation_prompt or ""):
        think = None
    try:
        guide = await COMPILER.guide_for(body, think, format_param, model.tool_calls, schema_param)
    except StructuredOutputError as error:
        raise bad_request(str(error), param=error.param) from error
    except ImportError as error:
        raise APIError(
            500,
            f"{asked[0]} needs xgrammar, a declared dependency of trtllm-nix that this installation lacks "
            f"({error}); reinstall trtllm-nix with its dependencies",
            type_="server_error",
            code="missing_dependency",
        ) from error
    if guide is not None and guide.guide_type not in capabilities.guided:
        kinds = ", ".join(sorted(capabilities.guided))
        raise bad_request(
            f"{asked[0]} compiles to a {guide.guide_type} guide; the served model's backend enforces {kinds}",
            param=asked[0],
            code="unsupported_value",
        )
    return guide
