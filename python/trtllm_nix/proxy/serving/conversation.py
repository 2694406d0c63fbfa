"""The preparation step of every chat-shaped request, whichever API it came in (chat completions, the Responses API,
the Messages API): a ``ChatInput`` of typed values (``proxy.chat_input``) becomes a :class:`ChatJob` (the upstream
request of each choice and what parsing the answer needs). Every check that can fail before generation runs here, so
its failure is a status, not an error event. Each concept is asked once, in order: the model's reasoning format (the
template's thinking switch), the checks, the chat template and tokenizer (off the loop), the guide when one is
asked, the upstream requests."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from trtllm_nix.llm.model_files import RenderedPrompt, render_chat
from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.chat_input import ChatInput
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat, ToolMode
from trtllm_nix.proxy.parsers.base import ContentOnly, SpanParser, TextParser
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.checks import check_chat
from trtllm_nix.proxy.serving.guides import structured_guide
from trtllm_nix.proxy.serving.upstream import choice_requests

LOG = logging.getLogger("trtllm_nix.proxy")


@dataclass(frozen=True)
class ChatJob:
    upstream: UpstreamRequest
    stops: list[str]
    reasoning: ReasoningFormat | None
    generation_prompt: str  # what the template added for the answer: whether the answer starts inside a think block
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
            text = self.reasoning.splitter(self.reasoning.opened_by(self.generation_prompt), calls)
        return SpanParser(text)


@dataclass(frozen=True)
class Rendered:
    tools: ToolMode  # how the answer's tool calls are handled
    prompt: RenderedPrompt


async def render(model: ServedModel, chat: ChatInput) -> Rendered:
    """The checks, then the prompt as the chat template renders it (with the reasoning format's thinking switch),
    tokenized off the loop: all a count of the prompt's tokens needs (``/v1/messages/count_tokens``)."""
    switch = model.reasoning.template_kwargs(chat.thinking) if model.reasoning is not None else {}
    kwargs = {**model.default_chat_template_kwargs, **switch, **chat.template_kwargs}
    tools = check_chat(model, chat, kwargs)
    tool_list = chat.tools if tools != "drop" else None
    assert model.template is not None  # check_chat refused a model without one
    generation = model.reasoning is not None  # only a reasoning format reads the generation prompt
    try:
        prompt = await asyncio.to_thread(
            render_chat, model.template, model.files, chat.messages, tool_list, kwargs, generation
        )
    except ValueError as error:  # the template rejected the messages
        raise bad_request(str(error), param="messages") from error
    return Rendered(tools, prompt)


async def prepare_conversation(
    model: ServedModel, chat: ChatInput, request_id: str, log_prompts: bool = False
) -> ChatJob:
    """``chat`` checked, rendered, guided and mapped onto one upstream request per choice."""
    rendered = await render(model, chat)
    prompt = rendered.prompt
    if log_prompts:  # off by default: prompts are the users' data
        LOG.info("request %s: chat prompt (%d tokens): %r", request_id, len(prompt.ids), prompt.text)
    sampling = chat.sampling
    if chat.structured:  # the answer after a think block is constrained, not the reasoning (proxy.structured)
        guide = await structured_guide(model, chat.structured, prompt.generation, chat.format_param, chat.schema_param)
        sampling = replace(sampling, guided=guide)
    top = chat.top_logprobs if sampling.logprobs else 0
    upstreams = choice_requests(model, prompt.ids, sampling, chat.n, "messages", request_id, chat.max_tokens_param, top)
    return ChatJob(
        upstream=upstreams[0],
        more=tuple(upstreams[1:]),
        stops=chat.stops,
        reasoning=model.reasoning,
        generation_prompt=prompt.generation,
        tools=rendered.tools,
        tool_calls=model.tool_calls,
        single_call=chat.parallel_tool_calls is False,
    )
