"""What one generation yields, in order: ``Delta`` values, then exactly one ``Finish``.

Data flows forward through these values: a consumer never reads a result back from a shared object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FinishReason = Literal["stop", "length"]
GuideType = Literal["json", "json_schema", "regex", "ebnf_grammar"]  # what the tensorrtllm backend understands


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token_id: int
    logprob: float


@dataclass(frozen=True, slots=True)
class Delta:
    """New text and the tokens it came from. ``logprobs`` is one per token id when they were asked for, else None;
    ``top_logprobs`` likewise (one tuple of alternatives per token id), where the backend gave them."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...] | None = None
    top_logprobs: tuple[tuple[TopLogprob, ...], ...] | None = None


@dataclass(frozen=True, slots=True)
class PromptScores:
    """The prompt scored from the backend's context logits: ``logprobs[i]`` is the logprob of prompt token ``i``
    given the tokens before it (None for the first, which nothing predicts); ``top[i]`` its best alternatives."""

    logprobs: tuple[float | None, ...]
    top: tuple[tuple[TopLogprob, ...], ...]
    # logprobs of the token after the prompt (the context logits' last row, numpy [vocab]): an end token that
    # finished the answer at once is not returned by the backend, and scoring needs its entry (llm.generation)
    following: Any = None


@dataclass(frozen=True, slots=True)
class Finish:
    """The last event of a generation. ``stop`` is the stop string that ended it, if one did; ``prompt`` the
    prompt's scores when the request asked for context logits."""

    reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    stop: str | None = None
    prompt: PromptScores | None = None


GenerationEvent = Delta | Finish


@dataclass(frozen=True, slots=True)
class GuidedDecoding:
    """A constraint on the output, sent as the backend's ``guided_decoding_guide_type``/``guided_decoding_guide``."""

    guide_type: GuideType
    guide: str
