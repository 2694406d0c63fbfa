"""``POST /v1/completions``: a raw prompt (text or token ids), no chat template."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.execution import respond_once, respond_stream, texts
from trtllm_nix.proxy.generation import Outcome
from trtllm_nix.proxy.prompting import upstream_request
from trtllm_nix.proxy.responses import ResponseIdentity, text_logprobs, usage
from trtllm_nix.proxy.schemas import CompletionRequest
from trtllm_nix.proxy.state import ProxyState, get_state
from trtllm_nix.proxy.streaming import DONE
from trtllm_nix.proxy.upstream import UpstreamRequest

router = APIRouter()


def _prompt(state: ProxyState, body: CompletionRequest) -> tuple[str, list[int]]:
    prompt = body.prompt
    if isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
        ids = [int(p) for p in prompt]
        vocabulary = state.files.tokenizer.get_vocab_size(with_added_tokens=True)
        if any(token < 0 or token >= vocabulary for token in ids):
            raise bad_request(f"prompt token ids must be in [0, {vocabulary})", param="prompt")
        return state.files.tokenizer.decode(ids, skip_special_tokens=False), ids
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise bad_request(
                "send one prompt per request (a string, a list of one string, or token ids)",
                param="prompt",
                code="unsupported_value",
            )
        prompt = prompt[0]
    assert isinstance(prompt, str)
    if not prompt:
        raise bad_request("prompt must not be empty", param="prompt")
    return prompt, state.files.encode(prompt)


@router.post("/v1/completions", response_model=None)
async def completions(
    body: CompletionRequest, request: Request, authorization: str | None = Header(default=None)
) -> Response:
    state = get_state(request)
    state.check_api_key(authorization)
    state.check_model(body.model)
    if body.suffix:
        raise bad_request("suffix is not supported", param="suffix", code="unsupported_value")
    if body.logprobs:
        raise bad_request(
            "logprobs above 0 asks for alternatives; the backend returns the chosen token's only (send logprobs: 0)",
            param="logprobs",
            code="unsupported_value",
        )
    prompt, ids = _prompt(state, body)
    if state.settings.log_prompts:  # off by default: prompts are the users' data
        logging.getLogger("trtllm_nix.proxy").info("completion prompt (%d tokens): %r", len(ids), prompt)
    upstream = upstream_request(state, body, ids, body.max_tokens, want_logprobs=body.logprobs is not None)
    identity = ResponseIdentity("text", state.settings.model_name)
    echo = prompt if body.echo else ""
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await respond_stream(
            state, lambda: _stream(state, upstream, body, identity, echo, include_usage), primed=2 if echo else 1
        )
    return await respond_once(state, request, lambda: _complete(state, upstream, body, identity, echo))


async def _complete(
    state: ProxyState, upstream: UpstreamRequest, body: CompletionRequest, identity: ResponseIdentity, echo: str
) -> JSONResponse:
    outcome = Outcome(prompt_tokens=len(upstream.input_ids))
    text = "".join([piece async for piece in texts(state, upstream, body.stop_list(), outcome)])
    choice = {
        "index": 0,
        "text": echo + text,
        "logprobs": text_logprobs(state.files, outcome, 0, len(echo)) if body.logprobs is not None else None,
        "finish_reason": outcome.finish_reason,
    }
    return JSONResponse(identity.envelope([choice], usage(outcome)))


async def _stream(
    state: ProxyState,
    upstream: UpstreamRequest,
    body: CompletionRequest,
    identity: ResponseIdentity,
    echo: str,
    include_usage: bool,
) -> AsyncGenerator[bytes, None]:
    outcome = Outcome(prompt_tokens=len(upstream.input_ids))
    if echo:
        yield identity.text_chunk(echo)
    seen, offset = 0, len(echo)
    async for piece in texts(state, upstream, body.stop_list(), outcome):
        logprobs = text_logprobs(state.files, outcome, seen, offset) if body.logprobs is not None else None
        seen, offset = len(outcome.token_ids), offset + len(piece)
        yield identity.text_chunk(piece, logprobs=logprobs)
    yield identity.text_chunk("", finish_reason=outcome.finish_reason)
    if include_usage:
        yield identity.usage_chunk(usage(outcome))
    yield DONE
