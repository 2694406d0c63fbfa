"""``/v1/completions``: raw prompts (text or token ids, one or several), no chat template; the text renderer.

Every prompt gets ``n`` choices, indexed as OpenAI does (``prompt_i * n + j``). ``echo`` puts the prompt before
the answer; with ``logprobs`` it scores the prompt from the engine's context logits (prompt scoring, what
lm-eval's loglikelihood tasks send), and ``logprobs: k`` above 0 gives alternatives from its generation logits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from fastapi.responses import Response

from trtllm_nix.llm.events import Finish, PromptScores
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.triton_client import CONTEXT_LOGITS_BYTES
from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.api_errors import bad_request, upstream_failed
from trtllm_nix.proxy.output_events import ContentText, OutputEvent
from trtllm_nix.proxy.parsers.base import ContentOnly, SpanParser
from trtllm_nix.proxy.protocol import CompletionRequest
from trtllm_nix.proxy.served import ServedModel
from trtllm_nix.proxy.serving.checks import check_backend, check_prompt_size
from trtllm_nix.proxy.serving.choices import respond_choices
from trtllm_nix.proxy.serving.encoding import (
    ResponseIdentity,
    text_logprobs,
    token_text,
    top_dict,
)
from trtllm_nix.proxy.serving.guides import structured_guide
from trtllm_nix.proxy.serving.pipeline import generation
from trtllm_nix.proxy.serving.upstream import choice_requests
from trtllm_nix.proxy.state import Call

LOG = logging.getLogger("trtllm_nix.proxy")


@dataclass(frozen=True)
class CompletionChoice:
    upstream: UpstreamRequest
    echo: str  # the prompt text when echo is on, else ""
    prompt_ids: tuple[int, ...]


@dataclass(frozen=True)
class CompletionJob:
    choices: list[CompletionChoice]
    stops: list[str]
    n: int

    def parser(self) -> SpanParser:
        return SpanParser(ContentOnly())


def _token_ids(model: ServedModel, ids: list[int]) -> list[int]:
    vocabulary = model.files.tokenizer.get_vocab_size(with_added_tokens=True)
    if not ids:
        raise bad_request("prompt must not be empty", param="prompt")
    if any(token < 0 or token >= vocabulary for token in ids):
        raise bad_request(f"prompt token ids must be in [0, {vocabulary})", param="prompt")
    if len(ids) >= model.context_length:
        raise bad_request(
            f"the prompt has {len(ids)} tokens, which leaves no room in the {model.context_length}-token context",
            param="prompt",
            code="context_length_exceeded",
        )
    return ids


def _prompt_items(body: CompletionRequest) -> list[str | list[int]]:
    """The prompts: a string, a list of strings, token ids, or a list of token id lists."""
    prompt = body.prompt
    if isinstance(prompt, str):
        return [prompt]
    if prompt and all(isinstance(p, int) for p in prompt):
        return [[int(p) for p in prompt]]  # type: ignore[arg-type]
    return list(prompt)  # type: ignore[arg-type]


def prompt_count(body: CompletionRequest) -> int:
    """How many prompts the request sends (each is one generation per choice): known before any tokenizing."""
    return max(1, len(_prompt_items(body)))


async def _prompts(model: ServedModel, body: CompletionRequest) -> list[tuple[str, list[int]]]:
    """Each prompt as text and token ids."""
    files = model.files
    items = _prompt_items(body)
    if not items:
        raise bad_request("prompt must not be empty", param="prompt")
    out: list[tuple[str, list[int]]] = []
    for item in items:
        if isinstance(item, list):
            ids = _token_ids(model, item)
            out.append((str(files.tokenizer.decode(ids, skip_special_tokens=False)), ids))
            continue
        if not item:
            raise bad_request("prompt must not be empty", param="prompt")
        check_prompt_size(model, len(item), "prompt")
        out.append((item, await asyncio.to_thread(files.encode, item)))
    return out


def check_logprobs(model: ServedModel, body: CompletionRequest) -> None:
    """What echo and logprobs need of the backend (its declared capabilities), refused by name where it lacks it."""
    if body.logprobs is None:
        return
    capabilities = model.backend.capabilities
    if body.echo and not capabilities.prompt_scoring:
        raise bad_request(
            "echo with logprobs scores the prompt, which needs " + capabilities.why_not("prompt_scoring", model.name),
            param="echo",
            code="unsupported_value",
        )
    if body.logprobs > 0 and not capabilities.top_logprobs:
        raise bad_request(
            f"logprobs {body.logprobs} asks for alternatives, which need "
            f"{capabilities.why_not('top_logprobs', model.name)} (send logprobs: 0, or build with "
            "`trtllm-nix engine build --gather-generation-logits`)",
            param="logprobs",
            code="unsupported_value",
        )
    if body.echo and body.stream:
        raise bad_request(
            "echo with logprobs is answered whole: send stream: false",
            param="stream",
            code="unsupported_value",
        )


async def prepare_completion(
    model: ServedModel, body: CompletionRequest, request_id: str, log_prompts: bool = False
) -> CompletionJob:
    if body.suffix:
        raise bad_request("suffix is not supported", param="suffix", code="unsupported_value")
    wants = body.logprobs is not None
    check_backend(model, min_p=body.min_p, priority=body.priority, top_k=body.top_k, n=body.n, logprobs=wants)
    check_logprobs(model, body)
    prompts = await _prompts(model, body)
    if log_prompts:  # off by default: prompts are the users' data
        for text, ids in prompts:
            LOG.info("request %s: completion prompt (%d tokens): %r", request_id, len(ids), text)
    guide = await structured_guide(model, body.structured_body(), None)
    if body.echo and wants:
        vocabulary = model.files.tokenizer.get_vocab_size(with_added_tokens=True)
        most = CONTEXT_LOGITS_BYTES // (4 * vocabulary)
        scored = sum(len(ids) for _, ids in prompts) * body.n  # each choice brings its prompt's logits
        if scored > most:
            raise bad_request(
                f"echo with logprobs moves the prompt's context logits (fp32, {vocabulary} per token); "
                f"{scored} prompt tokens (over all prompts and choices) are more than the {most} tokens this server "
                "scores in one request",
                param="prompt",
                code="context_length_exceeded",
            )
    base = replace(body.sampling(body.max_tokens, wants), guided=guide)
    score = bool(body.echo and wants)  # lm-eval slices [ctxlen:-1]: the end token that ended the answer stays
    choices = [
        CompletionChoice(upstream, text if body.echo else "", tuple(ids))
        for text, ids in prompts
        for upstream in choice_requests(
            model, ids, base, body.n, "prompt", request_id, top_logprobs=body.logprobs or 0, score_prompt=score
        )
    ]
    return CompletionJob(choices, body.stop_list(), body.n)


async def serve_completion(call: Call, body: CompletionRequest) -> Response:
    """``POST /v1/completions``: admitted (prompts x ``n`` generations), prepared, generated and rendered."""
    state = call.state
    model = state.models.get(body.model)
    prompts = prompt_count(body)
    what = f"{prompts} prompts x n {body.n}" if prompts > 1 else f"n is {body.n}"
    with state.lifecycle.admitted(model.backend, prompts * body.n, "n" if body.n > 1 else "prompt", what) as ticket:
        job = await prepare_completion(model, body, call.request_id, state.settings.log_prompts)
        identity = ResponseIdentity("text", model.name)
        renderers = [
            TextRenderer(model.files, identity, body.logprobs, choice.echo, index, choice.prompt_ids)
            for index, choice in enumerate(job.choices)
        ]

        def events() -> list[AsyncIterator[OutputEvent]]:
            return [generation(call, model, choice.upstream, job.stops, job.parser()) for choice in job.choices]

        usage = bool(body.stream_options and body.stream_options.include_usage)
        return await respond_choices(call, ticket, renderers, events, body.stream, usage, job.n)


def echo_logprobs(files: ModelFiles, prompt_ids: tuple[int, ...], scores: PromptScores, top: int) -> dict[str, Any]:
    texts = [token_text(files, token) for token in prompt_ids]
    offsets, at = [], 0
    for text in texts:
        offsets.append(at)
        at += len(text)
    tops = [None, *(top_dict(files, alternatives[:top]) for alternatives in scores.top[1:])] if top > 0 else None
    return {"tokens": texts, "token_logprobs": list(scores.logprobs), "top_logprobs": tops, "text_offset": offsets}


class TextRenderer:
    """Output events to text completion chunks of one choice; the text offset runs on across the choice (echo
    included)."""

    def __init__(
        self,
        files: ModelFiles,
        identity: ResponseIdentity,
        logprobs: int | None,
        echo: str,
        index: int = 0,
        prompt_ids: tuple[int, ...] = (),
    ) -> None:
        self._files = files
        self.identity = identity
        self._logprobs = logprobs
        self._echo = echo
        self._index = index
        self._prompt_ids = prompt_ids
        self._offset = len(echo)
        self.finish: Finish | None = None

    def piece(self, event: OutputEvent) -> tuple[str, dict[str, Any] | None, str | None]:
        """``(text, logprobs, finish_reason)`` of one event."""
        if isinstance(event, Finish):
            self.finish = event
            return "", None, event.reason
        assert isinstance(event, ContentText)
        logprobs = None
        if self._logprobs is not None:
            logprobs = text_logprobs(self._files, event.tokens, self._offset, self._logprobs)
        self._offset += len(event.text)
        return event.text, logprobs, None

    async def stream(self, events: AsyncIterator[OutputEvent]) -> AsyncIterator[bytes]:
        """This choice's chunks; the usage chunk and ``[DONE]`` are the answer's (``choices.stream_all``)."""
        index = self._index
        try:
            if self._echo:
                yield self.identity.text_chunk(self._echo, index=index)
            async for event in events:
                text, logprobs, finish_reason = self.piece(event)
                yield self.identity.text_chunk(text, finish_reason=finish_reason, logprobs=logprobs, index=index)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def choice(self, events: AsyncIterator[OutputEvent]) -> dict[str, Any]:
        texts, tokens, values, offsets = [self._echo], [], [], []
        tops: list[dict[str, float]] = []
        try:
            async for event in events:
                text, logprobs, _ = self.piece(event)
                texts.append(text)
                if logprobs is not None:
                    tokens += logprobs["tokens"]
                    values += logprobs["token_logprobs"]
                    offsets += logprobs["text_offset"]
                    tops += logprobs["top_logprobs"] or []
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        finish = self.finish
        assert finish is not None
        merged = None
        if self._logprobs is not None:
            merged = {"tokens": tokens, "token_logprobs": values, "top_logprobs": None, "text_offset": offsets}
            if self._logprobs > 0:
                merged["top_logprobs"] = tops
            if self._echo:
                if finish.prompt is None:
                    raise upstream_failed(
                        "the backend returned no context logits for the prompt, though its model repository says "
                        "it gathers them (gather_context_logits): echo with logprobs cannot be scored"
                    )
                head = echo_logprobs(self._files, self._prompt_ids, finish.prompt, self._logprobs)
                merged = {key: head[key] + value if value is not None else None for key, value in merged.items()}
        return {"index": self._index, "text": "".join(texts), "logprobs": merged, "finish_reason": finish.reason}
