"""Wire encoding of chat and text completion bodies and SSE chunks, serialized with as little work per token as
possible: the constant head of every chunk is encoded once per request."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from trtllm_nix.llm.events import Finish, TopLogprob
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.proxy.output_events import Tokens


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


_CONTENT_TAIL = b'},"logprobs":null,"finish_reason":null}]}\n\n'


class ResponseIdentity:
    """The id, creation time and model of one response, and the encoder of its stream chunks."""

    def __init__(self, kind: Literal["chat", "text"], model: str) -> None:
        self.kind = kind
        self.id = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model
        self.object = "chat.completion" if kind == "chat" else "text_completion"
        self.chunk_object = "chat.completion.chunk" if kind == "chat" else "text_completion"
        head = {"id": self.id, "object": self.chunk_object, "created": self.created, "model": model}
        self._prefix = b"data: " + _dumps(head)[:-1] + b',"choices":[{"index":'
        self._head = self._prefix + b"0,"

    def _head_of(self, index: int) -> bytes:
        return self._head if index == 0 else self._prefix + str(index).encode() + b","

    def envelope(self, choices: list[dict[str, Any]], usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }

    def chat_chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None, index: int = 0
    ) -> bytes:
        if finish_reason is None and logprobs is None and len(delta) == 1 and "content" in delta:
            return self.content_chunk(delta["content"], index)
        return (
            self._head_of(index)
            + b'"delta":'
            + _dumps(delta)
            + b',"logprobs":'
            + _dumps(logprobs)
            + b',"finish_reason":'
            + _dumps(finish_reason)
            + b"}]}\n\n"
        )

    def content_chunk(self, text: str, index: int = 0) -> bytes:
        """The common case, one content delta: a single encode of the text (the hot path of every stream)."""
        return self._head_of(index) + b'"delta":{"content":' + _dumps(text) + _CONTENT_TAIL

    def text_chunk(self, text: str, finish_reason: str | None = None, logprobs: Any = None, index: int = 0) -> bytes:
        return (
            self._head_of(index)
            + b'"text":'
            + _dumps(text)
            + b',"logprobs":'
            + _dumps(logprobs)
            + b',"finish_reason":'
            + _dumps(finish_reason)
            + b"}]}\n\n"
        )

    def usage_chunk(self, usage: dict[str, int]) -> bytes:
        body = {
            "id": self.id,
            "object": self.chunk_object,
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }
        return b"data: " + _dumps(body) + b"\n\n"


def usage(finish: Finish) -> dict[str, int]:
    return {
        "prompt_tokens": finish.prompt_tokens,
        "completion_tokens": finish.completion_tokens,
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }


def summed_usage(finishes: list[Finish], n: int) -> dict[str, int]:
    """Usage of ``n`` choices per prompt: each prompt counted once (as vLLM does), every completion token."""
    prompt = sum(finish.prompt_tokens for finish in finishes[::n])
    completion = sum(finish.completion_tokens for finish in finishes)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def token_text(files: ModelFiles, token: int) -> str:
    return str(files.tokenizer.decode([token], skip_special_tokens=False))


def chat_logprob_entries(files: ModelFiles, tokens: Tokens, top: int = 0) -> list[dict[str, Any]]:
    """OpenAI chat logprobs entries for ``tokens``, with up to ``top`` alternatives where the backend gave them."""
    entries = []
    alternatives = tokens.top_logprobs or ()
    for at, (token, logprob) in enumerate(zip(tokens.ids, tokens.logprobs or (), strict=False)):
        text = token_text(files, token)
        others = []
        for other in alternatives[at][:top] if at < len(alternatives) else ():
            other_text = token_text(files, other.token_id)
            others.append({"token": other_text, "logprob": other.logprob, "bytes": list(other_text.encode())})
        entries.append({"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": others})
    return entries


def top_dict(files: ModelFiles, alternatives: tuple[TopLogprob, ...]) -> dict[str, float]:
    """Legacy completions' alternatives: token text to logprob."""
    return {token_text(files, other.token_id): other.logprob for other in alternatives}


def text_logprobs(files: ModelFiles, tokens: Tokens, offset: int, top: int = 0) -> dict[str, Any]:
    """Legacy completions logprobs: tokens, their logprobs and text offsets (from ``offset`` in the choice text);
    ``top_logprobs`` when ``top`` alternatives were asked for (from the backend's generation logits)."""
    texts, values, offsets = [], [], []
    for token, logprob in zip(tokens.ids, tokens.logprobs or (), strict=False):
        text = token_text(files, token)
        texts.append(text)
        values.append(logprob)
        offsets.append(offset)
        offset += len(text)
    tops = None
    if top > 0:
        tops = [top_dict(files, alternatives[:top]) for alternatives in tokens.top_logprobs or ()]
    return {"tokens": texts, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}
