"""Wire encoding of chat and text completion bodies and SSE chunks, serialized with as little work per token as
possible: the constant head of every chunk is encoded once per request."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from trtllm_nix.llm.events import Finish
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
        self._head = b"data: " + _dumps(head)[:-1] + b',"choices":[{"index":0,'

    def envelope(self, choices: list[dict[str, Any]], usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }

    def chat_chunk(self, delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None) -> bytes:
        if finish_reason is None and logprobs is None and len(delta) == 1 and "content" in delta:
            return self.content_chunk(delta["content"])
        return (
            self._head
            + b'"delta":'
            + _dumps(delta)
            + b',"logprobs":'
            + _dumps(logprobs)
            + b',"finish_reason":'
            + _dumps(finish_reason)
            + b"}]}\n\n"
        )

    def content_chunk(self, text: str) -> bytes:
        """The common case, one content delta: a single encode of the text (the hot path of every stream)."""
        return self._head + b'"delta":{"content":' + _dumps(text) + _CONTENT_TAIL

    def text_chunk(self, text: str, finish_reason: str | None = None, logprobs: Any = None) -> bytes:
        return (
            self._head
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


def token_text(files: ModelFiles, token: int) -> str:
    return str(files.tokenizer.decode([token], skip_special_tokens=False))


def chat_logprob_entries(files: ModelFiles, tokens: Tokens) -> list[dict[str, Any]]:
    """OpenAI chat logprobs entries for ``tokens``: the chosen token only (no alternatives)."""
    entries = []
    for token, logprob in zip(tokens.ids, tokens.logprobs or (), strict=False):
        text = token_text(files, token)
        entries.append({"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": []})
    return entries


def text_logprobs(files: ModelFiles, tokens: Tokens, offset: int) -> dict[str, Any]:
    """Legacy completions logprobs: tokens, their logprobs and text offsets (from ``offset`` in the choice text)."""
    texts, values, offsets = [], [], []
    for token, logprob in zip(tokens.ids, tokens.logprobs or (), strict=False):
        text = token_text(files, token)
        texts.append(text)
        values.append(logprob)
        offsets.append(offset)
        offset += len(text)
    return {"tokens": texts, "token_logprobs": values, "top_logprobs": None, "text_offset": offsets}
