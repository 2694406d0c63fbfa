"""Checks of a request against the served model that need no tokenizing: the prompt's size, the number of messages,
and the sampling fields and outputs its backend cannot give (read from its declared capabilities, ``llm.backend``)."""

from __future__ import annotations

from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.served import ServedModel


def check_prompt_size(model: ServedModel, characters: int, param: str) -> None:
    if characters > model.max_prompt_chars:
        raise bad_request(
            f"the prompt has {characters} characters, more than the {model.context_length}-token context can hold",
            param=param,
            code="context_length_exceeded",
        )


def check_message_count(model: ServedModel, count: int) -> None:
    """Every message takes at least one token of the prompt (the template marks each turn), so more messages than
    the context has tokens cannot fit: refused before the messages are converted, rendered and tokenized (30k
    one-character messages took 1 s of that before the token count refused them)."""
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
    capabilities = model.capabilities
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
