"""``POST /v1/chat/completions``: the model's chat template, one Triton stream, a message or SSE deltas back."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.chat_output import (
    ChatOutputParser,
    ContentOnly,
    Qwen3OutputParser,
    merge_deltas,
    thinking_open_in_prompt,
)
from trtllm_nix.proxy.execution import respond_once, respond_stream, texts
from trtllm_nix.proxy.generation import Outcome
from trtllm_nix.proxy.prompting import render_chat, tool_mode, upstream_request
from trtllm_nix.proxy.responses import ResponseIdentity, chat_logprobs, usage
from trtllm_nix.proxy.schemas import ChatCompletionRequest
from trtllm_nix.proxy.state import ProxyState, get_state
from trtllm_nix.proxy.streaming import DONE
from trtllm_nix.proxy.upstream import UpstreamRequest

router = APIRouter()
LOG = logging.getLogger("trtllm_nix.proxy")


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, authorization: str | None = Header(default=None)
) -> Response:
    state = get_state(request)
    state.check_api_key(authorization)
    state.check_model(body.model)
    if body.top_logprobs:
        raise APIError(
            400,
            "top_logprobs is not supported: the backend returns the chosen token's logprob only",
            param="top_logprobs",
            code="unsupported_value",
        )
    tools = tool_mode(body)
    prompt, _ = render_chat(state, body)
    prompt_ids = state.files.encode(prompt)
    if state.settings.log_prompts:  # off by default: prompts are the users' data
        LOG.info("chat prompt (%d tokens): %r", len(prompt_ids), prompt)
    reasoning = _reasoning_enabled(state)
    thinking_open = reasoning and thinking_open_in_prompt(prompt)

    def parser() -> ChatOutputParser:
        if not reasoning and tools == "off":
            return ContentOnly()
        return Qwen3OutputParser(
            reasoning=reasoning,
            thinking_open=thinking_open,
            tools=tools,
            reasoning_alias=state.settings.reasoning_alias,
        )

    upstream = upstream_request(
        state, body, prompt_ids, body.max_completion_tokens or body.max_tokens, want_logprobs=body.logprobs
    )
    identity = ResponseIdentity("chat", state.settings.model_name)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await respond_stream(state, lambda: _stream(state, upstream, body, identity, parser(), include_usage))
    return await respond_once(state, request, lambda: _complete(state, upstream, body, identity, parser()))


def _reasoning_enabled(state: ProxyState) -> bool:
    choice = state.settings.reasoning_parser
    if choice == "auto":
        return {"<think>", "</think>"} <= state.files.special_ids.keys()
    return choice == "qwen3"


async def _complete(
    state: ProxyState,
    upstream: UpstreamRequest,
    body: ChatCompletionRequest,
    identity: ResponseIdentity,
    parser: ChatOutputParser,
) -> JSONResponse:
    outcome = Outcome(prompt_tokens=len(upstream.input_ids))
    deltas: list[dict[str, Any]] = []
    async for piece in texts(state, upstream, body.stop_list(), outcome):
        deltas.extend(parser.feed(piece))
    deltas.extend(parser.finish())
    message = merge_deltas(deltas)
    choice = {
        "index": 0,
        "message": message,
        "logprobs": chat_logprobs(state.files, outcome, 0) if body.logprobs else None,
        "finish_reason": "tool_calls" if message.get("tool_calls") else outcome.finish_reason,
    }
    return JSONResponse(identity.envelope([choice], usage(outcome)))


async def _stream(
    state: ProxyState,
    upstream: UpstreamRequest,
    body: ChatCompletionRequest,
    identity: ResponseIdentity,
    parser: ChatOutputParser,
    include_usage: bool,
) -> AsyncGenerator[bytes, None]:
    outcome = Outcome(prompt_tokens=len(upstream.input_ids))
    yield identity.chat_chunk({"role": "assistant", "content": ""})
    seen = 0
    called = False
    async for piece in texts(state, upstream, body.stop_list(), outcome):
        logprobs = chat_logprobs(state.files, outcome, seen) if body.logprobs else None
        seen = len(outcome.token_ids)
        for delta in parser.feed(piece):
            called = called or "tool_calls" in delta
            yield identity.chat_chunk(delta, logprobs=logprobs)
            logprobs = None
    for delta in parser.finish():
        called = called or "tool_calls" in delta
        yield identity.chat_chunk(delta)
    yield identity.chat_chunk({}, finish_reason="tool_calls" if called else outcome.finish_reason)
    if include_usage:
        yield identity.usage_chunk(usage(outcome))
    yield DONE
