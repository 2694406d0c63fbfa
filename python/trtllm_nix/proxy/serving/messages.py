"""``/v1/messages`` and ``/v1/messages/count_tokens``: an Anthropic Messages request translated onto the chat path
(``messages_api.translate``: the same chat template, checks, guided decoding, upstream request and output parsers
as ``/v1/chat/completions``), its output events rendered as a ``Message`` or the Messages SSE grammar
(``messages_api.render``). The lifecycle (admission, deadline, client leaving) is the chat one.

Choices written down here:
- ``max_tokens`` is clamped to the room the prompt leaves in the context, never a 400 (Claude Code asks 32000 of a
  16384-token engine); a prompt that leaves no room is a 400 ``prompt is too long: N tokens > M maximum``,
  Anthropic's words (Claude Code compacts its conversation on them; M: the most prompt tokens that leave room for
  one answer token).
- The request goes to the chat path's preparation step (``serving.conversation``) as typed values
  (``ChatInput``), never as a re-validated chat request: errors name the Messages API's fields where they are made
  (``output_config.format`` or ``output_format``, a tool's ``input_schema``, ``max_tokens``, ``messages.N.content``,
  ``tool_choice``). Anthropic's envelope has no ``param``: a message that does not name its field gets it in front.
- A failure after the stream started ends it with an ``error`` event in Anthropic's envelope, then nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi.responses import Response

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.messages_api.errors import error_event
from trtllm_nix.proxy.messages_api.protocol import Conversation, MessagesRequest, parse_count_request, parse_request
from trtllm_nix.proxy.messages_api.render import PING, MessageMeta, StreamRenderer, render_message
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.messages_api.translate import to_chat
from trtllm_nix.proxy.output_events import OutputEvent
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.conversation import ChatJob, prepare_conversation, render
from trtllm_nix.proxy.serving.pipeline import generation, json_body
from trtllm_nix.proxy.serving.upstream import PromptTooLong
from trtllm_nix.proxy.state import Call


def in_anthropic_words(error: APIError) -> APIError:
    """A refusal of the preparation step as Anthropic words it: its field in the message (the envelope has no
    ``param``), and ``prompt is too long`` for a prompt that does not fit (Claude Code reads these words to compact
    its conversation; M is the most prompt tokens that leave room for one answer token)."""
    message = error.message
    if error.param is not None and error.param not in message:
        message = f"{error.param}: {message}"
    if isinstance(error, PromptTooLong):
        tokens, maximum = error.prompt_tokens, error.context_length - 1
        message = f"prompt is too long: {tokens} tokens > {maximum} maximum ({error.message})"
    elif error.code == "context_length_exceeded":
        message = f"prompt is too long: {message}"
    return APIError(error.status, message, error.type, error.param, error.code, error.headers)


async def prepare_messages(
    model: ServedModel, request: MessagesRequest, signer: ThinkingSigner, request_id: str, log_prompts: bool
) -> ChatJob:
    """Every check that can fail before generation (a status, not an ``error`` event); ``max_tokens`` clamped."""
    try:
        job = await prepare_conversation(model, to_chat(request, signer), request_id, log_prompts)
    except APIError as error:
        raise in_anthropic_words(error) from None
    room = job.upstream.max_new_tokens  # no max given to the chat path: all the room the prompt leaves
    return replace(job, upstream=replace(job.upstream, max_new_tokens=min(request.max_tokens, room)))


async def count_tokens(model: ServedModel, request: Conversation, signer: ThinkingSigner) -> dict[str, int]:
    """The tokens the prompt of ``request`` has, as ``usage.input_tokens`` would count them."""
    try:
        rendered = await render(model, to_chat(request, signer))
    except APIError as error:
        raise in_anthropic_words(error) from None
    return {"input_tokens": len(rendered.prompt.ids)}


async def serve_messages(call: Call) -> Response:
    """``POST /v1/messages``: the body parsed in the Messages API's words, prepared through the chat path, generated
    and rendered as a ``Message`` or its SSE grammar (``ping`` keep-alives)."""
    state = call.state
    body = parse_request(await json_body(call))
    model = state.models.get(body.model)
    rid = call.request_id
    with state.lifecycle.admitted(model.backend) as ticket:  # before preparing, as chat: rendering is work
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
