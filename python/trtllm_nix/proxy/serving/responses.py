"""``/v1/responses``: a Responses request translated onto the chat path (the same chat template, checks, upstream
request and output parsers as ``/v1/chat/completions``), and its output events rendered as a ``Response`` object
or the Responses SSE event grammar. The lifecycle (admission, deadline, client leaving) is the chat one.

Choices written down here:
- ``text.format`` (json_object, json_schema with or without ``strict``) becomes the chat request's
  ``response_format``; ``tool_choice`` (``required``, a named function) and ``parallel_tool_calls`` go over as the
  chat API's. The chat path's structured-output machinery (``proxy.structured``) turns them into one guide for
  TensorRT-LLM's guided decoding, streamed or not, or a 400; a 400 about ``response_format`` names ``text.format``.
  Without guided decoding on the served model such a request is a 400, never an unconstrained answer.
- ``parallel_tool_calls: false``: at most one ``function_call`` item (forced choices are held to one call by the
  grammar; with ``auto`` calls after the first are dropped, as on the chat route).
- A failure after the stream started ends it with ``response.failed`` (the response's own error), then nothing
  more: the Responses grammar has no ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.protocol import ChatCompletionRequest
from trtllm_nix.proxy.responses_api.options import ChatPlan
from trtllm_nix.proxy.responses_api.protocol import ResponsesRequest
from trtllm_nix.proxy.responses_api.render import ResponseMeta, StreamRenderer, render_response
from trtllm_nix.proxy.responses_api.store import ResponseStore, remember
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.chat import ChatJob, prepare_chat
from trtllm_nix.proxy.serving.common import off_loop


def chat_request(request: ResponsesRequest, plan: ChatPlan) -> ChatCompletionRequest:
    """The chat request that ``plan`` stands for, so the chat path's checks and template rendering apply as is."""
    options = plan.options
    body: dict[str, Any] = {
        "model": request.model,
        "messages": plan.messages,
        "tools": plan.tools,
        "tool_choice": options.tool_choice if plan.tools else None,
        "max_completion_tokens": options.max_output_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "chat_template_kwargs": options.chat_template_kwargs or None,
        "response_format": options.response_format,
        "parallel_tool_calls": options.parallel_tool_calls if plan.tools else None,
        **options.extensions,
    }
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as error:  # the translation produced something the chat path does not take
        raise bad_request(f"input cannot be rendered as a chat: {error.errors()[0]['msg']}", param="input") from None


async def prepare_responses(
    model: ServedModel, request: ResponsesRequest, plan: ChatPlan, request_id: str, log_prompts: bool
) -> ChatJob:
    """Every check that can fail before generation (a status, not a ``response.failed`` event); its errors name
    ``text.format`` where the chat path's would name ``response_format``."""
    return await prepare_chat(model, chat_request(request, plan), request_id, log_prompts, format_param="text.format")


@dataclass(frozen=True)
class ResponsesJob:
    """One prepared Responses request: what to generate, how to render it and where to keep it."""

    meta: ResponseMeta
    plan: ChatPlan
    store: ResponseStore
    store_requested: bool
    error_for: Callable[[BaseException], APIError]

    async def complete(self, events: AsyncIterator[OutputEvent]) -> dict[str, Any]:
        try:
            collected = [event async for event in events]
        finally:  # closed now, not by the garbage collector: a client that left cancels the generation at once
            await events.aclose()  # type: ignore[attr-defined]
        final = render_response(collected, self.meta)
        await self._remember(final)
        return final

    async def stream(self, events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]:
        renderer = StreamRenderer(self.meta)
        yield renderer.start()
        try:
            async for event in events:
                yield renderer.feed(event)
        except Exception as error:
            envelope = self.error_for(error)
            yield renderer.fail(envelope.message, "server_error")
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        if renderer.final is not None:
            await self._remember(renderer.final)

    async def _remember(self, final: dict[str, Any]) -> None:
        await off_loop(lambda: remember(self.store, self.store_requested, self.plan.conversation, final))
