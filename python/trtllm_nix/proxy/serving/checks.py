"""Checks of a request against the served model that need no tokenizing: the prompt's size, the number of messages,
the sampling fields and outputs its backend cannot give (read from its declared capabilities, ``llm.backend``), and
for a chat its template, template arguments and tools (``check_chat``, one call of the preparation step)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat, ToolMode
from trtllm_nix.proxy.served import ServedModel

if TYPE_CHECKING:
    from trtllm_nix.proxy.chat_input import ChatInput

# No tokenizer packs more characters into a token: longer prompt text cannot fit the context, and is refused
# before the tokenizer spends seconds on it.
CHARACTERS_PER_TOKEN = 16
RESERVED_TEMPLATE_KWARGS = frozenset({"messages", "tools", "add_generation_prompt"})


def check_chat(model: ServedModel, chat: ChatInput, template_kwargs: dict[str, Any]) -> ToolMode:
    """Everything about a chat that can be refused before rendering, in the order the client would fix it; returns
    how the answer's tool calls are handled."""
    check_message_count(model, len(chat.messages))
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
    if model.template is None:
        raise bad_request("this model's tokenizer has no chat template; use /v1/completions")
    check_template_kwargs(template_kwargs)
    tools = tool_mode(chat.tools, chat.tool_choice, model.tool_calls)
    check_prompt_size(model, sum(len(m["content"] or "") for m in chat.messages), "messages")
    return tools


def check_template_kwargs(kwargs: dict[str, Any]) -> None:
    reserved = RESERVED_TEMPLATE_KWARGS & kwargs.keys()
    if reserved:
        raise bad_request(f"chat_template_kwargs may not set {sorted(reserved)}", param="chat_template_kwargs")


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
    if choice is None or choice == "auto" or choice == "required" or isinstance(choice, dict):
        return "parse"
    if choice == "none":
        return "drop"
    raise bad_request(
        f"tool_choice must be 'auto', 'none', 'required' or a function, got {choice!r}", param="tool_choice"
    )


def check_prompt_size(model: ServedModel, characters: int, param: str) -> None:
    if characters > CHARACTERS_PER_TOKEN * model.context_length:
        raise bad_request(
            f"the prompt has {characters} characters, more than the {model.context_length}-token context can hold",
            param=param,
            code="context_length_exceeded",
        )


def check_message_count(model: ServedModel, count: int) -> None:
    """Every message takes at least one token of the prompt (the template marks each turn), so more messages than
    the context has tokens cannot fit: refused before the messages are rendered and tokenized (30k one-character
    messages took 1 s of that before the token count refused them)."""
    if count > model.context_length:
        raise bad_request(
            f"{count} messages cannot fit in the {model.context_length}-token context (each takes at least one token)",
            param="messages",
            code="context_length_exceeded",
        )


def check_backend(
    model: ServedModel,
    *,
    min_p: float | None,
    priority: int | None,
    top_k: int | None,
    n: int,
    logprobs: bool,
    top_logprobs: int = 0,
) -> None:
    """What the request asks of the backend that it cannot give (its declared capabilities), refused by name: a
    sampling field at any value but "off", several choices, logprobs, alternatives per token."""
    capabilities = model.backend.capabilities
    if top_logprobs and not capabilities.top_logprobs:
        raise bad_request(
            f"top_logprobs needs {capabilities.why_not('top_logprobs', model.name)} (the backend returns the "
            "chosen token's logprob only)",
            param="top_logprobs",
            code="unsupported_value",
        )
    if min_p and not capabilities.min_p:
        raise bad_request(
            f"min_p {min_p}: {capabilities.why_not('min_p', model.name)}; send 0 or omit it (top_p and top_k are "
            "honoured)",
            param="min_p",
            code="unsupported_value",
        )
    if priority and not capabilities.priority:
        raise bad_request(
            f"priority {priority}: {capabilities.why_not('priority', model.name)}; send 0 or omit it",
            param="priority",
            code="unsupported_value",
        )
    vocabulary = model.files.tokenizer.get_vocab_size(with_added_tokens=True)
    if top_k is not None and top_k > vocabulary:
        raise bad_request(f"top_k is {top_k}; the vocabulary has {vocabulary} tokens", param="top_k")
    if n > 1 and not capabilities.choices:
        raise bad_request(
            f"n is {n}; the served model's backend generates one choice per request: send n 1",
            param="n",
            code="unsupported_value",
        )
    if logprobs and not capabilities.logprobs:
        raise bad_request(
            "logprobs: the served model's backend returns no logprobs; omit logprobs",
            param="logprobs",
            code="unsupported_value",
        )
