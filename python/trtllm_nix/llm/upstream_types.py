"""What a generation asks Triton's ``tensorrt_llm`` model for and gets back, without gRPC: the request (every value
range-checked against its tensor), the chunks, the :class:`TokenSource` protocol, the errors and TensorRT-LLM's word
list layout. numpy and the standard library only, so the Python models inside the server's image (which has no
grpcio or tritonclient) import it; the gRPC client is ``trtllm_nix.llm.triton_client``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from trtllm_nix.llm.events import FinishReason, GuidedDecoding, TopLogprob

INT32_MAX = 2**31 - 1


class UpstreamUnavailable(Exception):
    """Triton cannot be reached, or the model is not loaded."""


class UpstreamError(Exception):
    """Triton answered the request with an error."""


class UpstreamTimeout(Exception):
    """The request outlived its deadline (a slow or hung Triton)."""


@dataclass(frozen=True)
class UpstreamRequest:
    input_ids: list[int]
    max_new_tokens: int
    end_id: int
    pad_id: int
    stop_token_sequences: list[list[int]] = field(default_factory=list)
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    return_log_probs: bool = False
    # The prompt's logits (engines built with gather_context_logits) and each generated token's (with
    # gather_generation_logits): what prompt scoring and top-k alternatives are computed from.
    return_context_logits: bool = False
    return_generation_logits: bool = False
    top_logprobs: int = 0  # alternatives per token the proxy computes from those logits (not sent upstream)
    keep_end_token: bool = False  # the end token that finished the answer is yielded (no text), as vLLM scores it
    request_id: str = ""
    parameters: dict[str, int | float | str | bool] = field(default_factory=dict)
    guided: GuidedDecoding | None = None

    def __post_init__(self) -> None:
        """Every value fits the tensor it is sent in: nothing wraps silently to int32 (or a negative uint64)."""
        checks: list[tuple[str, int | None, int, int]] = [
            ("max_new_tokens", self.max_new_tokens, 0, INT32_MAX),  # 0: the backend says why not
            ("end_id", self.end_id, -1, INT32_MAX),
            ("pad_id", self.pad_id, 0, INT32_MAX),
            ("top_k", self.top_k, 0, INT32_MAX),
            ("seed", self.seed, 0, 2**64 - 1),
        ]
        for name, value, low, high in checks:
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} is {value}; it must be in [{low}, {high}]")
        # min/max run in C: a per-token generator cost ~0.1 ms per 1k prompt tokens, and this runs on every copy
        ids = self.input_ids
        if len(ids) > INT32_MAX or (len(ids) > 0 and (min(ids) < 0 or max(ids) > INT32_MAX)):
            raise ValueError("input_ids must be token ids in [0, 2**31 - 1]")
        for word in self.stop_token_sequences:
            if any(not 0 <= t <= INT32_MAX for t in word):
                raise ValueError("stop_token_sequences must hold token ids in [0, 2**31 - 1]")


@dataclass(frozen=True)
class UpstreamChunk:
    token_ids: list[int]
    logprobs: list[float] | None
    final: bool
    context_logits: np.ndarray | None = None  # type: ignore[type-arg]  # [prompt tokens, vocab], float32
    generation_logits: np.ndarray | None = None  # type: ignore[type-arg]  # [new tokens, vocab], float32
    # Alternatives per token as the server computed them (TrtllmService's top_logprobs), best first; Triton has
    # none (the proxy computes them from generation_logits).
    top_logprobs: tuple[tuple[TopLogprob, ...], ...] | None = None
    # Why the server says the generation ended, where it says (TrtllmService's GenerateComplete); None from Triton.
    finish_reason: FinishReason | None = None


class TokenSource(Protocol):
    """Anything that streams generated token ids for a request: one Triton, or a pool of them."""

    @property
    def url(self) -> str: ...

    def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]: ...


class Upstream(TokenSource, Protocol):
    """One server a pool can hold: a token source with a readiness check and a channel to close (a Triton, or a
    TensorRT-LLM ``TrtllmService``)."""

    async def ready(self, timeout: float = 2.0) -> bool: ...

    async def close(self) -> None: ...


def word_list(words: list[list[int]]) -> np.ndarray:  # type: ignore[type-arg]
    """TensorRT-LLM's ``[1, 2, N]`` word list: flat ids, then cumulative end offsets padded with -1."""
    flat = [token for word in words for token in word]
    offsets = np.cumsum([len(word) for word in words]).tolist()
    width = max(len(flat), 1)
    out = np.full((1, 2, width), -1, dtype=np.int32)
    out[0, 0, : len(flat)] = flat
    out[0, 1, : len(offsets)] = offsets
    return out
