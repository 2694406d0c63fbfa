"""``POST /v1/chat/completions``: the model's chat template, one Triton stream, text or SSE back."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from trtllm_nix.proxy.api_errors import APIError, unavailable, upstream_failed
from trtllm_nix.proxy.generation import Outcome, generate_text
from trtllm_nix.proxy.prompting import render_chat, upstream_request
from trtllm_nix.proxy.schemas import ChatCompletionRequest
from trtllm_nix.proxy.state import ProxyState, get_state
from trtllm_nix.proxy.streaming import DONE, ClientDisconnected, sse_response, until_disconnect
from trtllm_nix.proxy.upstream import UpstreamError, UpstreamRequest, UpstreamUnavailable

router = APIRouter()


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
    prompt, _ = render_chat(state, body)
    prompt_ids = state.files.encode(prompt)
    requested = body.max_completion_tokens or body.max_tokens
    upstream = upstream_request(state, body, prompt_ids, requested, want_logprobs=body.logprobs)
    identity = _Identity(state.settings.model_name)
    state.admit()
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(
            _stream(state, upstream, body, identity, include_usage),
            state.settings.keepalive_seconds,
            {"X-Request-Id": identity.id},
            state.release,
        )
    try:
        return await until_disconnect(request, _complete(state, upstream, body, identity))
    except ClientDisconnected:
        return Response(status_code=499)
    finally:
        state.release()


class _Identity:
    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model
        head = json.dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": model})
        self._chunk_head = b"data: " + head[:-1].encode() + b', "choices": [{"index": 0, "delta": '

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None) -> bytes:
        tail = {"logprobs": logprobs, "finish_reason": finish_reason}
        return self._chunk_head + json.dumps(delta).encode() + b", " + json.dumps(tail).encode()[1:] + b"]}\n\n"

    def usage_chunk(self, usage: dict[str, int]) -> bytes:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"


def _usage(outcome: Outcome) -> dict[str, int]:
    return {
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "total_tokens": outcome.prompt_tokens + outcome.completion_tokens,
    }


def _logprobs(state: ProxyState, outcome: Outcome, start: int) -> dict[str, Any]:
    content = []
    for token, logprob in zip(outcome.token_ids[start:], outcome.logprobs[start:], strict=False):
        text = state.files.tokenizer.decode([token], skip_special_tokens=False)
        content.append({"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": []})
    return {"content": content}


async def _complete(
    state: ProxyState, upstream: UpstreamRequest, body: ChatCompletionRequest, identity: _Identity
) -> JSONResponse:
    outcome = Outcome(prompt_tokens=len(upstream.input_ids))
    try:
        text = "".join(
            [piece async for piece in generate_text(state.upstream, upstream, state.files, body.stop_list(), outcome)]
        )
    except UpstreamUnavailable as error:
        raise unavailable(str(error)) from error
    except UpstreamError as error:
        raise upstream_failed(f"Triton failed the request: {error}") from error
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "logprobs": _logprobs(state, outcome, 0) if body.logprobs else None,
        "finish_reason": outcome.finish_reason,
    }
    return JSONResponse(
        {
            "id": identity.id,
            "object": "chat.completion",
            "created": identity.created,
            "model": identity.model,
            "choices": [choice],
            "usage": _usage(outcome),
        },
        headers={"X-Request-Id": identity.id},
    )


async def _stream(
    state: ProxyState,
    upstream: UpstreamRequest,
    body: ChatCompletionRequest,
    identity: _Identity,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    outcome = Outcome(prompt_tokens=len(upstream.input_ids))
    try:
        yield identity.chunk({"role": "assistant", "content": ""})
        seen = 0
        async for piece in generate_text(state.upstream, upstream, state.files, body.stop_list(), outcome):
            logprobs = _logprobs(state, outcome, seen) if body.logprobs else None
            seen = len(outcome.token_ids)
            yield identity.chunk({"content": piece}, logprobs=logprobs)
        yield identity.chunk({}, finish_reason=outcome.finish_reason)
        if include_usage:
            yield identity.usage_chunk(_usage(outcome))
        yield DONE
    except UpstreamUnavailable as error:
        yield unavailable(str(error)).sse_event()
        yield DONE
    except UpstreamError as error:
        yield upstream_failed(f"Triton failed the request: {error}").sse_event()
        yield DONE
