"""``/v1/chat/completions``: the prompt from the model's chat template, the output parsers, and the renderer that
turns output events into chunks. Streamed and non-streamed answers come from the same chunks (merged for the
latter), so they cannot disagree."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi.responses import Response

from trtllm_nix.llm.events import Finish
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.sampling import Sampling
from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat, ToolMode
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, ToolCall
from trtllm_nix.proxy.parsers.base import ContentOnly, SpanParser, TextParser
from trtllm_nix.proxy.protocol import ChatCompletionRequest, ChatMessage
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.checks import check_backend, check_message_count, check_prompt_size
from trtllm_nix.proxy.serving.encoding import ResponseIdentity, chat_logprob_entries
from trtllm_nix.proxy.serving.guides import structured_guide
from trtllm_nix.proxy.serving.offload import off_loop
from trtllm_nix.proxy.serving.pipeline import generation, respond_choices, served_model
from trtllm_nix.proxy.serving.upstream import choice_requests
from trtllm_nix.proxy.state import Call

LOG = logging.getLogger("trtllm_nix.proxy")


@dataclass(frozen=True)
class ChatJob:
    upstream: UpstreamRequest
    stops: list[str]
    reasoning: ReasoningFormat | None
    thinking_open: bool
    tools: ToolMode
    tool_calls: ToolCallFormat | None = None
    single_call: bool = False  # parallel_tool_calls false: at most one call reaches the client
    more: tuple[UpstreamRequest, ...] = ()  # the requests of choices 1 .. n-1 (n > 1)

    def upstreams(self) -> list[UpstreamRequest]:
        return [self.upstream, *self.more]

    def parser(self) -> SpanParser:
        """The model formats' parsers: reasoning split off first, the answer's text through the tool-call parser."""
        calls = None
        if self.tools != "off" and self.tool_calls is not None:
            calls = self.tool_calls.parser(self.tools)
        text: TextParser = calls or ContentOnly()
        if self.reasoning is not None:
            text = self.reasoning.splitter(self.thinking_open, calls)
        return SpanParser(text)


@dataclass(frozen=True)
class ChatInput:
    """A chat-shaped request as the preparation step takes it, whichever API it came in (chat completions, the
    Responses API, the Messages API): typed values, never a re-validated chat request. The ``*_param`` fields name
    the client's own fields in errors (``text.format`` for ``response_format`` on /v1/responses, ``input_schema`` for a
    tool's ``parameters`` on /v1/messages)."""

    messages: list[dict[str, Any]]  # as the chat template expects them (template_messages)
    sampling: Sampling  # guided is filled in here
    stops: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # the client's chat_template_kwargs
    thinking: bool | None = None  # thinking asked on or off (None: the default), the reasoning format's switch
    structured: Mapping[str, Any] = field(default_factory=dict)  # the fields proxy.structured reads
    min_p: float | None = None
    priority: int | None = None
    n: int = 1
    top_logprobs: int = 0  # alternatives per token asked for (sent only with sampling.logprobs)
    format_param: str = "response_format"
    max_tokens_param: str = "max_tokens"
    schema_param: str = "parameters"  # a tool's schema (the Messages API's input_schema)


def chat_input(body: ChatCompletionRequest, messages: list[dict[str, Any]]) -> ChatInput:
    """``body`` (its ``messages`` already converted, off the loop) as the preparation step takes it."""
    return ChatInput(
        messages=messages,
        sampling=body.sampling(body.max_completion_tokens or body.max_tokens, body.logprobs),
        stops=body.stop_list(),
        tools=body.tools,
        tool_choice=body.tool_choice,
        parallel_tool_calls=body.parallel_tool_calls,
        template_kwargs=body.chat_template_kwargs or {},
        structured=body.structured_body(),
        min_p=body.min_p,
        priority=body.priority,
        n=body.n,
        top_logprobs=body.top_logprobs or 0,
    )


RESERVED_TEMPLATE_KWARGS = frozenset({"messages", "tools", "add_generation_prompt"})


def check_template_kwargs(kwargs: dict[str, Any]) -> None:
    reserved = RESERVED_TEMPLATE_KWARGS & kwargs.keys()
    if reserved:
        raise bad_request(f"chat_template_kwargs may not set {sorted(reserved)}", param="chat_template_kwargs")


def template_messages(given: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as the chat template expects them: text content, reasoning under one name, developer as system."""
    messages = []
    for index, message in enumerate(given):
        try:
            text = message.text()
        except ValueError as error:
            raise bad_request(str(error), param=f"messages.{index}.content") from error
        item: dict[str, Any] = {"role": "system" if message.role == "developer" else message.role, "content": text}
        reasoning = message.reasoning_content if message.reasoning_content is not None else message.reasoning
        if reasoning is not None:
            item["reasoning_content"] = reasoning
        if message.tool_calls:
            item["tool_calls"] = [call.model_dump() for call in message.tool_calls]
        if message.tool_call_id:
            item["tool_call_id"] = message.tool_call_id
        if message.name:
            item["name"] = message.name
        messages.append(item)
    return messages


def tool_mode(
    tools: list[dict[str, Any]] | None, choice: str | dict[str, Any] | None, tool_calls: ToolCallFormat | None
) -> ToolMode:
    """How tool calls in the answer are handled: parsed (auto), dropped with their markup (none), or not looked
    for (no tools). ``required`` and a named function are parsed as usual: guided decoding forces the call."""
    if not tools:
        if choice not in (None, "none", "auto"):
            raise bad_request("tool_choice needs tools", param="tool_choice")
        return "off"
    if tool_calls is None:
        raise bad_request(
            "this server parses no tool calls (started with --tool-call-parser none); send the request without tools",
            param="tools",
        )
    if choice is None or choice == "auto":
        return "parse"
    if choice == "none":
        return "drop"
    if choice == "required" or isinstance(choice, dict):
        return "parse"
    raise bad_request(
        f"tool_choice must be 'auto', 'none', 'required' or a function, got {choice!r}", param="tool_choice"
    )


async def render_prompt(model: ServedModel, chat: ChatInput) -> tuple[ToolMode, tuple[str, list[int], str]]:
    """How tool calls are handled, and the prompt as the chat template renders it: its text, its token ids and the
    generation prompt (what the template added for the answer)."""
    template = model.template
    if template is None:
        raise bad_request("this model's tokenizer has no chat template; use /v1/completions")
    switch = model.reasoning.template_kwargs(chat.thinking) if model.reasoning is not None else {}
    kwargs = {**model.default_chat_template_kwargs, **switch, **chat.template_kwargs}
    check_template_kwargs(kwargs)
    tools = tool_mode(chat.tools, chat.tool_choice, model.tool_calls)
    messages = chat.messages
    check_prompt_size(model, sum(len(m["content"] or "") for m in messages), "messages")
    tool_list = chat.tools if tools != "drop" else None

    def render() -> tuple[str, list[int], str]:
        prompt = template.render(messages, tool_list, **kwargs)
        generation = (
            template.generation_prompt(messages, tool_list, prompt, **kwargs) if model.reasoning is not None else ""
        )
        return prompt, model.files.encode(prompt), generation

    try:
        return tools, await off_loop(render)
    except ValueError as error:
        raise bad_request(str(error), param="messages") from error


async def prepare_conversation(
    model: ServedModel, chat: ChatInput, request_id: str, log_prompts: bool = False
) -> ChatJob:
    """The preparation step of every chat-shaped request: every check that can fail before generation, so its
    failure is a status, not an error event (the messages were counted before they were converted)."""
    sampling = chat.sampling
    check_backend(
        model,
        min_p=chat.min_p,
        priority=chat.priority,
        top_k=sampling.top_k,
        n=chat.n,
        logprobs=sampling.logprobs,
        top_logprobs=chat.top_logprobs,
    )
    tools, (prompt, ids, generation_prompt) = await render_prompt(model, chat)
    if log_prompts:  # off by default: prompts are the users' data
        LOG.info("request %s: chat prompt (%d tokens): %r", request_id, len(ids), prompt)
    # Reasoning models: the answer after the think block is constrained, not the reasoning (proxy.structured); a
    # prompt that already closed the block (thinking switched off) needs no think prefix in the grammar.
    think = model.reasoning
    guide_think = think if think is not None and not think.closed_by(generation_prompt) else None
    guide = await structured_guide(model, chat.structured, guide_think, chat.format_param, chat.schema_param)
    sampling = replace(sampling, guided=guide)
    top = chat.top_logprobs if sampling.logprobs else 0
    upstreams = choice_requests(model, ids, sampling, chat.n, "messages", request_id, chat.max_tokens_param, top)
    return ChatJob(
        upstream=upstreams[0],
        more=tuple(upstreams[1:]),
        stops=chat.stops,
        reasoning=think,
        thinking_open=think is not None and think.opened_by(generation_prompt),
        tools=tools,
        tool_calls=model.tool_calls,
        single_call=chat.parallel_tool_calls is False,
    )


async def conversation_of(model: ServedModel, body: ChatCompletionRequest) -> ChatInput:
    """A chat completion request as the preparation step takes it; its messages are counted before they are
    converted (off the loop: 0.1 s for 30k messages)."""
    check_message_count(model, len(body.messages))
    return chat_input(body, await off_loop(lambda: template_messages(body.messages)))


async def prepare_chat(
    model: ServedModel, body: ChatCompletionRequest, request_id: str, log_prompts: bool = False
) -> ChatJob:
    return await prepare_conversation(model, await conversation_of(model, body), request_id, log_prompts)


async def serve_chat(call: Call, body: ChatCompletionRequest) -> Response:
    """``POST /v1/chat/completions``: admitted (``n`` generations), prepared, generated and rendered, streamed or
    whole."""
    state = call.state
    model = served_model(call, body.model)
    with state.lifecycle.admitted(body.n, "n", f"n is {body.n}") as ticket:  # before preparing: that is work
        job = await prepare_chat(model, body, call.request_id, state.settings.log_prompts)
        identity = ResponseIdentity("chat", model.name)
        top = body.top_logprobs or 0
        renderers = [
            ChatRenderer(model.files, identity, body.logprobs, model.reasoning_alias, job.single_call, index, top)
            for index in range(len(job.upstreams()))
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


class ChatRenderer:
    """Output events to chat chunks (a pure mapping, apart from remembering whether a tool was called)."""

    def __init__(
        self,
        files: ModelFiles,
        identity: ResponseIdentity,
        logprobs: bool,
        alias: bool,
        single_call: bool = False,
        index: int = 0,
        top: int = 0,
    ) -> None:
        self._files = files
        self._index = index
        self._top = top
        self.finish: Finish | None = None
        self._single_call = single_call
        self.identity = identity
        self._logprobs = logprobs
        self._alias = alias
        self._called = False

    def pieces(self, event: OutputEvent) -> list[ChatPiece]:
        if isinstance(event, Finish):
            self.finish = event
            # a cut answer says so, calls or not: a client must not run calls of an answer it cannot see whole
            called = self._called and event.reason != "length"
            return [ChatPiece({}, finish_reason="tool_calls" if called else event.reason)]
        entries = None
        if self._logprobs and event.tokens.ids:
            entries = chat_logprob_entries(self._files, event.tokens, self._top)
        if isinstance(event, ContentText):
            return [ChatPiece({"content": event.text} if event.text else {}, entries)]
        if isinstance(event, ReasoningText):
            delta = {"reasoning_content": event.text}
            if self._alias:
                delta["reasoning"] = event.text
            return [ChatPiece(delta, entries)]
        assert isinstance(event, ToolCall)
        if self._single_call and self._called:  # parallel_tool_calls false: calls after the first are dropped
            return []
        self._called = True
        head = {"index": event.index, "id": event.call_id, "type": "function"}
        out = [ChatPiece({"tool_calls": [{**head, "function": {"name": event.name, "arguments": ""}}]}, entries)]
        for piece in event.argument_pieces or (event.arguments,):
            out.append(ChatPiece({"tool_calls": [{"index": event.index, "function": {"arguments": piece}}]}))
        return out

    def chunk(self, piece: ChatPiece) -> bytes:
        logprobs = {"content": piece.logprobs} if piece.logprobs is not None else None
        return self.identity.chat_chunk(
            piece.delta, finish_reason=piece.finish_reason, logprobs=logprobs, index=self._index
        )

    async def stream(self, events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]:
        """This choice's chunks; the usage chunk and ``[DONE]`` are the answer's (``choices.stream_all``)."""
        yield self.identity.chat_chunk({"role": "assistant", "content": ""}, index=self._index)
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
        if self._logprobs:
            logprobs = {"content": [entry for p in pieces for entry in p.logprobs or []]}
        return {
            "index": self._index,
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
