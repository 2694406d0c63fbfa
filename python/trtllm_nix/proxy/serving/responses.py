"""``/v1/responses``: a Responses request translated onto the chat path (the same chat template, checks, upstream
request and output parsers as ``/v1/chat/completions``), and its output events rendered as a ``Response`` object
or the Responses SSE event grammar. The lifecycle (admission, deadline, client leaving) is the chat one.

Choices written down here:
- The request goes to the chat path's preparation step (``serving.conversation``) as typed values
  (``ChatInput``), never as a re-validated chat request: ``text.format`` (json_object, json_schema with or without
  ``strict``) is its ``response_format``; ``tool_choice`` (``required``, a named function) and
  ``parallel_tool_calls`` go over as the chat API's. The chat path's structured-output machinery
  (``proxy.structured``) turns them into one guide for TensorRT-LLM's guided decoding, streamed or not, or a 400;
  its errors name ``text.format`` (and ``max_output_tokens``), chosen where they are made.
  Without guided decoding on the served model such a request is a 400, never an unconstrained answer.
- ``parallel_tool_calls: false``: at most one ``function_call`` item (forced choices are held to one call by the
  grammar; with ``auto`` calls after the first are dropped, as on the chat route).
- A failure after the stream started ends it with ``response.failed`` (the response's own error), then nothing
  more: the Responses grammar has no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.responses_api.protocol import SKIPPED_TOOLS_HEADER, parse_request
from trtllm_nix.proxy.responses_api.render import ResponseMeta, StreamRenderer, new_meta, render_response
from trtllm_nix.proxy.responses_api.store import (
    ResponseStore,
    previous_conversation,
    remember,
    resolve_references,
)
from trtllm_nix.proxy.responses_api.translate import conversation_of, to_chat
from trtllm_nix.proxy.serving.conversation import prepare_conversation
from trtllm_nix.proxy.serving.pipeline import generation, json_body
from trtllm_nix.proxy.state import Call


async def serve_responses(call: Call) -> Response:
    """``POST /v1/responses``: the body parsed in the Responses API's words, the stored turns it names looked up
    (off the loop), translated, prepared by the chat path's step, generated and rendered as a ``Response``."""
    state = call.state
    body = parse_request(await json_body(call))
    model = state.models.get(body.model)
    rid = call.request_id
    with state.lifecycle.admitted(model.backend) as ticket:
        body, previous = await asyncio.to_thread(
            lambda: (
                resolve_references(state.responses, body),
                previous_conversation(state.responses, body.previous_response_id),
            )
        )
        conversation = conversation_of(body, previous)
        chat = to_chat(body, conversation)
        job = await prepare_conversation(model, chat, rid, state.settings.log_prompts)
        meta = new_meta(model.name, body)
        answer = ResponsesJob(meta, conversation, state.responses, body.store, lambda e: state.lifecycle.error(e, rid))
        skipped = body.skipped_tools()
        headers = {SKIPPED_TOOLS_HEADER: ", ".join(skipped)} if skipped else None

        def events() -> AsyncIterator[OutputEvent]:
            return generation(call, model, job.upstream, job.stops, job.parser())

        if body.stream:
            return state.lifecycle.respond_stream(rid, answer.stream(events()), ticket, headers)
        return await state.lifecycle.respond_once(call.request, rid, lambda: answer.complete(events()), ticket, headers)


@dataclass(frozen=True)
class ResponsesJob:
    """One prepared Responses request: what to generate, how to render it and where to keep it."""

    meta: ResponseMeta
    conversation: list[dict[str, Any]]  # what a later request continuing this one builds on
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
        await asyncio.to_thread(remember, self.store, self.store_requested, self.conversation, final)
