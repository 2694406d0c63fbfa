"""``/v1/completions``: a raw prompt (text or token ids), no chat template; the text renderer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from trtllm_nix.llm.events import Finish
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.triton_client import UpstreamRequest
from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.output_events import ContentText, OutputEvent
from trtllm_nix.proxy.parsers.base import ContentOnly, SpanParser
from trtllm_nix.proxy.protocol import CompletionRequest
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.common import (
    check_prompt_size,
    check_sampling,
    off_loop,
    structured_guide,
    to_upstream,
)
from trtllm_nix.proxy.serving.encoding import ResponseIdentity, text_logprobs, usage
from trtllm_nix.proxy.sse import DONE

LOG = logging.getLogger("trtllm_nix.proxy")


@dataclass(frozen=True)
class CompletionJob:
    upstream: UpstreamRequest
    stops: list[str]
    echo: str

    def parser(self) -> SpanParser:
        return SpanParser(ContentOnly())


async def _prompt(model: ServedModel, body: CompletionRequest) -> tuple[str, list[int]]:
    prompt = body.prompt
    files = model.files
    if isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
        ids = [int(p) for p in prompt]
        vocabulary = files.tokenizer.get_vocab_size(with_added_tokens=True)
        if any(token < 0 or token >= vocabulary for token in ids):
            raise bad_request(f"prompt token ids must be in [0, {vocabulary})", param="prompt")
        if len(ids) >= model.context_length:
            check_prompt_size(model, model.max_prompt_chars + 1, "prompt")
        return str(files.tokenizer.decode(ids, skip_special_tokens=False)), ids
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise bad_request(
                "send one prompt per request (a string, a list of one string, or token ids)",
                param="prompt",
                code="unsupported_value",
            )
        prompt = prompt[0]
    assert isinstance(prompt, str)
    if not prompt:
        raise bad_request("prompt must not be empty", param="prompt")
    check_prompt_size(model, len(prompt), "prompt")
    text = prompt
    return text, await off_loop(lambda: files.encode(text))


async def prepare_completion(
    model: ServedModel, body: CompletionRequest, request_id: str, log_prompts: bool = False
) -> CompletionJob:
    if body.suffix:
        raise bad_request("suffix is not supported", param="suffix", code="unsupported_value")
    if body.logprobs:
        raise bad_request(
            "logprobs above 0 asks for alternatives; the backend returns the chosen token's only (send logprobs: 0)",
            param="logprobs",
            code="unsupported_value",
        )
    check_sampling(model, body)
    prompt, ids = await _prompt(model, body)
    if log_prompts:  # off by default: prompts are the users' data
        LOG.info("request %s: completion prompt (%d tokens): %r", request_id, len(ids), prompt)
    guide = await structured_guide(model, body.structured_body(), reasoning=False)
    sampling = replace(body.sampling(body.max_tokens, body.logprobs is not None), guided=guide)
    upstream = to_upstream(model, ids, sampling, "prompt", request_id)
    return CompletionJob(upstream, body.stop_list(), prompt if body.echo else "")


class TextRenderer:
    """Output events to text completion chunks; the text offset runs on across the choice (echo included)."""

    def __init__(self, files: ModelFiles, identity: ResponseIdentity, logprobs: bool, echo: str) -> None:
        self._files = files
        self.identity = identity
        self._logprobs = logprobs
        self._echo = echo
        self._offset = len(echo)

    def piece(self, event: OutputEvent) -> tuple[str, dict[str, Any] | None, str | None]:
        """``(text, logprobs, finish_reason)`` of one event."""
        if isinstance(event, Finish):
            return "", None, event.reason
        assert isinstance(event, ContentText)
        logprobs = text_logprobs(self._files, event.tokens, self._offset) if self._logprobs else None
        self._offset += len(event.text)
        return event.text, logprobs, None

    async def stream(self, events: AsyncIterator[OutputEvent], include_usage: bool) -> AsyncIterator[bytes]:
        try:
            if self._echo:
                yield self.identity.text_chunk(self._echo)
            async for event in events:
                text, logprobs, finish_reason = self.piece(event)
                yield self.identity.text_chunk(text, finish_reason=finish_reason, logprobs=logprobs)
                if isinstance(event, Finish):
                    if include_usage:
                        yield self.identity.usage_chunk(usage(event))
                    yield DONE
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def complete(self, events: AsyncIterator[OutputEvent]) -> dict[str, Any]:
        texts, tokens, values, offsets = [self._echo], [], [], []
        finish: Finish | None = None
        async for event in events:
            text, logprobs, _ = self.piece(event)
            texts.append(text)
            if logprobs is not None:
                tokens += logprobs["tokens"]
                values += logprobs["token_logprobs"]
                offsets += logprobs["text_offset"]
            if isinstance(event, Finish):
                finish = event
        assert finish is not None
        merged = {"tokens": tokens, "token_logprobs": values, "top_logprobs": None, "text_offset": offsets}
        choice = {
            "index": 0,
            "text": "".join(texts),
            "logprobs": merged if self._logprobs else None,
            "finish_reason": finish.reason,
        }
        return self.identity.envelope([choice], usage(finish))
