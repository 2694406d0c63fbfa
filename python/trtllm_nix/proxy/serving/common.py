"""What chat and text completions share before generation: checks of the sampling fields, the prompt size limit,
work off the event loop, and the mapping to the upstream request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.llm.sampling import ContextTooLong, Sampling, upstream_request
from trtllm_nix.llm.triton_client import UpstreamRequest
from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.guide_compiler import COMPILER
from trtllm_nix.proxy.protocol import SamplingFields
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.structured import StructuredOutputError, constraining_fields

T = TypeVar("T")


async def off_loop(work: Callable[[], T]) -> T:
    """Template rendering and tokenization run in a worker thread (the tokenizer's batch call releases the GIL),
    so one long prompt never freezes the streams of everybody else."""
    return await asyncio.to_thread(work)


def check_prompt_size(model: ServedModel, characters: int, param: str) -> None:
    if characters > model.max_prompt_chars:
        raise bad_request(
            f"the prompt has {characters} characters, more than the {model.context_length}-token context can hold",
            param=param,
            code="context_length_exceeded",
        )


def check_message_count(model: ServedModel, count: int) -> None:
    """Every message takes at least one token of the prompt (the template marks each turn), so more messages than
    the context has tokens cannot fit: refused before the messages are converted, rendered and tokenized (30k
    one-character messages took 1 s of that before the token count refused them)."""
    if count > model.context_length:
        raise bad_request(
            f"{count} messages cannot fit in the {model.context_length}-token context (each takes at least one token)",
            param="messages",
            code="context_length_exceeded",
        )


def check_sampling(model: ServedModel, body: SamplingFields) -> None:
    """What TensorRT-LLM's Triton model cannot honour is refused by name, at any value but "off"."""
    if body.min_p:
        server = (
            "this proxy does not send min_p to TensorRT-LLM's TrtllmService yet"
            if model.lane == "pytorch"
            else "TensorRT-LLM's tensorrt_llm Triton model has no min-p sampling"
        )
        raise bad_request(
            f"min_p {body.min_p}: {server}; send 0 or omit it (top_p and top_k are honoured)",
            param="min_p",
            code="unsupported_value",
        )
    if body.priority:
        why = (
            "TensorRT-LLM's TrtllmService takes no priority"
            if model.lane == "pytorch"
            else "TensorRT-LLM's Triton backend schedules requests first come, first served"
        )
        raise bad_request(
            f"priority {body.priority}: {why}; send 0 or omit it",
            param="priority",
            code="unsupported_value",
        )
    vocabulary = model.files.tokenizer.get_vocab_size(with_added_tokens=True)
    if body.top_k is not None and body.top_k > vocabulary:
        raise bad_request(f"top_k is {body.top_k}; the vocabulary has {vocabulary} tokens", param="top_k")


async def structured_guide(
    model: ServedModel,
    body: Mapping[str, Any],
    reasoning: ReasoningFormat | None,
    format_param: str = "response_format",
) -> GuidedDecoding | None:
    """The guide the request's structured-output fields ask for, compiled off the loop on the compiler's own threads
    within its deadline (proxy.guide_compiler); a 400 naming the field when
    it cannot be honoured exactly, or when the served model does not do guided decoding (never a silent fallback:
    trtllm-serve 1.2.1 drops response_format without a backend, we refuse). The model's capability is checked
    first, so a model without guided decoding compiles nothing."""
    asked = constraining_fields(body, format_param)
    if not asked:
        return None
    if not model.guided_decoding:
        raise bad_request(
            f"{asked[0]} needs guided decoding, which the served model {model.name!r} does not have (its "
            "tensorrt_llm config sets no guided_decoding_backend, or the proxy was started without "
            "--model-repository); regenerate the repository with `trtllm-nix repo generate --guided-decoding` and "
            "pass it to the proxy",
            param=asked[0],
            code="unsupported_value",
        )
    try:
        return await COMPILER.guide_for(body, reasoning, format_param, model.tool_calls)
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


def to_upstream(
    model: ServedModel, prompt_ids: list[int], sampling: Sampling, prompt_param: str, request_id: str
) -> UpstreamRequest:
    try:
        return upstream_request(model.files, model.context_length, prompt_ids, sampling, prompt_param, request_id)
    except ContextTooLong as error:
        raise APIError(400, str(error), param=error.param, code="context_length_exceeded") from error
    except ValueError as error:  # a value out of the range of its tensor
        raise bad_request(str(error), code="invalid_value") from error
