"""``/v1/chat/completions``: the request (``protocol.ChatCompletionRequest.chat_input``) prepared by
``serving.conversation``, as the Responses and Messages APIs' are, and the renderer that turns output events into
chunks. Streamed and non-streamed answers come from the same chunks (merged for the
latter), so they cannot disagree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import Response

from trtllm_nix.llm.events import Finish
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, ToolCall
from trtllm_nix.proxy.protocol import ChatCompletionRequest
from trtllm_nix.proxy.serving.choices import respond_choices
from trtllm_nix.proxy.serving.conversation import prepare_conversation
from trtllm_nix.proxy.serving.encoding import ResponseIdentity, chat_logprob_entries
from trtllm_nix.proxy.serving.pipeline import generation
from trtllm_nix.proxy.state import Call


async def serve_chat(call: Call, body: ChatCompletionRequest) -> Response:
    """``POST /v1/chat/completions``: admitted (``n`` generations), prepared, generated and rendered, streamed or
    whole."""
    state = call.state
    model = state.models.get(body.model)
    # admitted before preparing (that is work): 503 when no upstream is ready, 429 when full
    with state.lifecycle.admitted(model.backend, body.n, "n", f"n is {body.n}") as ticket:
        chat = await asyncio.to_thread(body.chat_input)  # the messages converted: 0.1 s for 30k
        job = await prepare_conversation(model, chat, call.request_id, state.settings.log_prompts)
        identity = ResponseIdentity("chat", model.name)
        top = body.top_logprobs or 0
        renderers = [
            ChatRenderer(model.files, identity, body.logprobs, model.reasoning_alias, job.single_call, index, top)
            for index in range(body.n)
        ]

        def events() -> list[AsyncIterator[OutputEvent]]:
            return [generation(call, model, upstream, job.stops, job.parser()) for upstream in job.upstreams()]

        usage = bool(body.stream_options and body.stream_options.include_usage)
        return await respond_choices(call, ticket, renderers, events, body.stream, usage, body.n)


@dataclass(frozen=True)
class ChatPiece:
    delta: dict[str, Any]
    logprobs: list[dict[str, Any]] | None = None
    finish_reason: str | None = None


@dataclass
class ChatRenderer:
    """Output events to chat chunks (a pure mapping, apart from remembering whether a tool was called)."""

    files: ModelFiles
    identity: ResponseIdentity
    logprobs: bool
    alias: bool  # reasoning also under "reasoning" (--reasoning-alias)
    single_call: bool = False  # parallel_tool_calls false: calls after the first are dropped
    index: int = 0
    top: int = 0  # alternatives per token
    finish: Finish | None = field(default=None, init=False)
    called: bool = field(default=False, init=False)

    def pieces(self, event: OutputEvent) -> list[ChatPiece]:
        if isinstance(event, Finish):
            self.finish = event
            # a cut answer says so, calls or not: a client must not run calls of an answer it cannot see whole
            called = self.called and event.reason != "length"
            return [ChatPiece({}, finish_reason="tool_calls" if called else event.reason)]
        entries = None
        if self.logprobs and event.tokens.ids:
            entries = chat_logprob_entries(self.files, event.tokens, self.top)
        if isinstance(event, ContentText):
            return [ChatPiece({"content": event.text} if event.text else {}, entries)]
        if isinstance(event, ReasoningText):
            delta = {"reasoning_content": event.text}
            if self.alias:
                delta["reasoning"] = event.text
            return [ChatPiece(delta, entries)]
        assert isinstance(event, ToolCall)
        if self.single_call and self.called:  # parallel_tool_calls false: calls after the first are dropped
            return []
        self.called = True
        head = {"index": event.index, "id": event.call_id, "type": "function"}
        out = [ChatPiece({"tool_calls": [{**head, "function": {"name": event.name, "arguments": ""}}]}, entries)]
        for piece in event.argument_pieces or (event.arguments,):
            out.append(ChatPiece({"tool_calls": [{"index": event.index, "function": {"arguments": piece}}]}))
        return out

    def chunk(self, piece: ChatPiece) -> bytes:
        logprobs = {"content": piece.logprobs} if piece.logprobs is not None else None
        return self.identity.chat_chunk(
            piece.delta, finish_reason=piece.finish_reason, logprobs=logprobs, index=self.index
        )

    async def stream(self, events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]:
        """This choice's chunks; the usage chunk and ``[DONE]`` are the answer's (``choices.stream_all``)."""
        yield self.identity.chat_chunk({"role": "assistant", "content": ""}, index=self.index)
        try:
            async for event in events:
                for piece in self.pieces(event):
                    yield self.chunk(piece)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def choice(self, events: AsyncIterator[OutputEvent]) -> dict[str, Any]:
        pieces: list[ChatPiece] = []
        try:
            async for event in events:
                pieces.extend(self.pieces(event))
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        assert self.finish is not None
        message = merge_deltas([p.delta for p in pieces])
        logprobs = None
        if self.logprobs:
            logprobs = {"content": [entry for p in pieces for entry in p.logprobs or []]}
        return {
            "index": self.index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": pieces[-1].finish_reason,
        }


def merge_deltas(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed message that the deltas add up to."""
    content: list[str] = []
    reasoning: list[str] = []
    alias = False
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        if delta.get("content"):
            content.append(delta["content"])
        if delta.get("reasoning_content"):
            reasoning.append(delta["reasoning_content"])
            alias = alias or "reasoning" in delta
        for call in delta.get("tool_calls", []):
            merged = calls.setdefault(
                call["index"], {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            merged["id"] = call.get("id") or merged["id"]
            function = call.get("function", {})
            merged["function"]["name"] += function.get("name") or ""
            merged["function"]["arguments"] += function.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) if content or not calls else None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
        if alias:
            message["reasoning"] = message["reasoning_content"]
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message
