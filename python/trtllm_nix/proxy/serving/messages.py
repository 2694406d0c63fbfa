"""``/v1/messages`` and ``/v1/messages/count_tokens``: an Anthropic Messages request translated onto the chat path
(``messages_api.translate``: the same chat template, checks, guided decoding, upstream request and output parsers
as ``/v1/chat/completions``), its output events rendered as a ``Message`` or the Messages SSE grammar
(``messages_api.render``). The lifecycle (admission, deadline, client leaving) is the chat one.

Choices written down here:
- ``max_tokens`` is clamped to the room the prompt leaves in the context, never a 400 (Claude Code asks 32000 of a
  16384-token engine); a prompt that leaves no room is a 400 ``prompt is too long: N tokens > M maximum``,
  Anthropic's words (Claude Code compacts its conversation on them; M: the most prompt tokens that leave room for
  one answer token).
- The chat path's words for its fields are the Messages API's in errors (``response_format`` ->
  ``output_config.format``).
- A failure after the stream started ends it with an ``error`` event in Anthropic's envelope, then nothing more.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi.responses import Response
from pydantic import ValidationError

from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.messages_api.errors import error_event
from trtllm_nix.proxy.messages_api.protocol import Conversation, MessagesRequest, parse_count_request, parse_request
from trtllm_nix.proxy.messages_api.render import PING, MessageMeta, StreamRenderer, render_message
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.messages_api.translate import chat_body
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.protocol import ChatCompletionRequest
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.chat import ChatJob, conversation_of, prepare_chat, render_prompt
from trtllm_nix.proxy.serving.pipeline import generation, json_body, served_model
from trtllm_nix.proxy.state import Call

_PARAMS = {"response_format": "output_config.format"}
_TOO_LONG = re.compile(r"the prompt has (?P<tokens>\d+) tokens, which leaves no room in the (?P<context>\d+)-token")


def chat_request(request: Conversation, signer: ThinkingSigner) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate(chat_body(request, signer))
    except ValidationError as error:  # the translation produced something the chat path does not take
        raise bad_request(
            f"messages cannot be rendered as a chat: {error.errors()[0]['msg']}", param="messages"
        ) from None


def in_messages_terms(error: APIError) -> APIError:
    """``error`` from the chat path, with the Messages API's names for the fields (in its message: Anthropic's
    envelope has no ``param``) and Anthropic's words for a prompt that does not fit."""
    message, param = error.message, error.param
    for chat_name, name in _PARAMS.items():
        if param is not None and param.startswith(chat_name):
            param = name + param.removeprefix(chat_name).removeprefix(".json_schema")
        message = message.replace(chat_name, name)
    if param is not None and param not in message:  # Anthropic's envelope has no param: the message names it
        message = f"{param}: {message}"
    if error.code == "context_length_exceeded":
        counted = _TOO_LONG.search(error.message)
        if counted:  # Anthropic's exact words: Claude Code reads them to compact its conversation
            tokens, context = int(counted["tokens"]), int(counted["context"])
            message = f"prompt is too long: {tokens} tokens > {context - 1} maximum ({error.message})"
        else:
            message = f"prompt is too long: {message}"
    return APIError(error.status, message, error.type, param, error.code, error.headers)


async def prepare_messages(
    model: ServedModel, request: MessagesRequest, signer: ThinkingSigner, request_id: str, log_prompts: bool
) -> ChatJob:
    """Every check that can fail before generation (a status, not an ``error`` event); ``max_tokens`` clamped."""
    try:
        job = await prepare_chat(model, chat_request(request, signer), request_id, log_prompts)
    except APIError as error:
        raise in_messages_terms(error) from None
    room = job.upstream.max_new_tokens  # no max given to the chat path: all the room the prompt leaves
    return replace(job, upstream=replace(job.upstream, max_new_tokens=min(request.max_tokens, room)))


async def count_tokens(model: ServedModel, request: Conversation, signer: ThinkingSigner) -> dict[str, int]:
    """The tokens the prompt of ``request`` has, as ``usage.input_tokens`` would count them."""
    try:
        _, (_, ids, _) = await render_prompt(model, await conversation_of(model, chat_request(request, signer)))
    except APIError as error:
        raise in_messages_terms(error) from None
    return {"input_tokens": len(ids)}


async def serve_messages(call: Call) -> Response:
    """``POST /v1/messages``: the body parsed in the Messages API's words, prepared through the chat path, generated
    and rendered as a ``Message`` or its SSE grammar (``ping`` keep-alives)."""
    state = call.state
    body = parse_request(await json_body(call))
    model = served_model(call, body.model)
    rid = call.request_id
    with state.lifecycle.admitted() as ticket:  # before preparing, as chat: rendering and tokenizing are work
        job = await prepare_messages(model, body, state.signer, rid, state.settings.log_prompts)
        meta = MessageMeta(
            model.name, len(job.upstream.input_ids), state.signer, body.thinking_display(), job.single_call
        )
        answer = MessagesJob(meta, lambda e: state.lifecycle.error(e, rid))
        headers = {"request-id": rid}

        def events() -> AsyncIterator[OutputEvent]:
            return generation(call, model, job.upstream, job.stops, job.parser())

        if body.stream:
            return state.lifecycle.respond_stream(rid, answer.stream(events()), ticket, headers, keepalive=PING)
        return await state.lifecycle.respond_once(call.request, rid, lambda: answer.complete(events()), ticket, headers)


async def serve_count_tokens(call: Call) -> dict[str, int]:
    """``POST /v1/messages/count_tokens``."""
    body = parse_count_request(await json_body(call))
    return await count_tokens(call.state.models.get(body.model), body, call.state.signer)


@dataclass(frozen=True)
class MessagesJob:
    """One prepared Messages request: how to render its output events."""

    meta: MessageMeta
    error_for: Callable[[BaseException], APIError]

    async def complete(self, events: AsyncIterator[OutputEvent]) -> dict[str, Any]:
        return render_message([event async for event in events], self.meta)

    async def stream(self, events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]:
        renderer = StreamRenderer(self.meta)
        yield renderer.start()
        try:
            async for event in events:
                yield renderer.feed(event)
        except Exception as error:
            yield error_event(self.error_for(error))
        finally:
            await events.aclose()  # type: ignore[attr-defined]
