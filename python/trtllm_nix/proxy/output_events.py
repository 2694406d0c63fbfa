"""What the output parsers (reasoning, tool calls) make of a generation: typed pieces of an answer, each carrying
the token ids (and logprobs) it was parsed from, so no renderer has to re-align tokens with text.

Chat Completions, Completions and the Responses API are renderers: functions from these events to their wire
format, the same for streamed and non-streamed answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtllm_nix.llm.events import Finish, TopLogprob


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens a piece of output came from (possibly none: text a parser holds back and releases later)."""

    ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = None
    top_logprobs: tuple[tuple[TopLogprob, ...], ...] | None = None


@dataclass(frozen=True, slots=True)
class ReasoningText:
    text: str
    tokens: Tokens = Tokens()


@dataclass(frozen=True, slots=True)
class ContentText:
    text: str
    tokens: Tokens = Tokens()


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One complete, validated tool call (``arguments`` is a JSON object's text). ``index`` counts calls from 0.
    ``argument_pieces``, when given, splits ``arguments`` the way the model generated it (streamed renderers may
    send it in those pieces)."""

    index: int
    call_id: str
    name: str
    arguments: str
    tokens: Tokens = Tokens()
    argument_pieces: tuple[str, ...] = ()


OutputEvent = ReasoningText | ContentText | ToolCall | Finish
