"""The generation backend the proxy talks to: ``generate(request, stops) -> AsyncIterator[Delta | Finish]``, with
its capabilities declared once (what the proxy's checks read, never which lane it is).

``request`` is the prompt and its sampling in one typed value (``UpstreamRequest``: prompt token ids, sampling
fields, stop token ids, what to return); ``stops`` are the stop strings, matched on the text. Both lanes implement it
today with :class:`trtllm_nix.llm.generation.TokenStreamBackend` over their token streams: a Triton (or a pool of
them) and TensorRT-LLM's ``TrtllmService`` (which streams ids, logprobs, top-k alternatives and its finish reason
itself); what each can do is declared in ``llm.lanes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from trtllm_nix.llm.events import GenerationEvent, GuideType
from trtllm_nix.llm.upstream_types import UpstreamRequest

# What a backend may lack; its ``missing`` sentence says why, in the backend's own words
Feature = Literal["min_p", "priority", "top_logprobs", "prompt_scoring", "guided_decoding"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one backend does. ``missing[feature]`` says why a feature is absent (a ``{model}`` in it is the served
    model's name): the proxy's 400s quote it, so a client learns what would give it the feature."""

    token_ids: bool = True  # each Delta carries the ids its text came from
    logprobs: bool = True  # the chosen token's logprob
    top_logprobs: bool = False  # alternatives per generated token
    prompt_scoring: bool = False  # the prompt's own logprobs (echo + logprobs), in Finish.prompt
    guided: frozenset[GuideType] = frozenset()  # the guide kinds it enforces; empty: no guided decoding
    choices: bool = True  # n > 1: one request per choice, side by side
    min_p: bool = False
    priority: bool = False
    missing: Mapping[Feature, str] = field(default_factory=dict)

    def why_not(self, feature: Feature, model: str) -> str:
        return self.missing.get(feature, f"the served model's backend has no {feature}").format(model=repr(model))


class GenerationBackend(Protocol):
    """One served model's generations: events, its declared capabilities and its upstreams' health."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def url(self) -> str: ...

    def generate(self, request: UpstreamRequest, stops: Sequence[str]) -> AsyncIterator[GenerationEvent]:
        """``Delta`` values, then exactly one ``Finish``; closing the iterator early cancels the generation."""
        ...

    def any_ready(self) -> bool:
        """Whether an upstream is in rotation now (no call: what the last checks found)."""
        ...

    async def ready(self) -> bool:
        """Whether an upstream is ready (a call to each)."""
        ...

    def status(self) -> list[dict[str, object]]:
        """Each upstream's address, health and requests in flight."""
        ...
