"""What a reasoning format is: a family's think-block markup, read from the answer and written into guides.

A :class:`ReasoningFormat` subclass names its markers and registers with ``@REASONING_FORMATS.register(name)`` (the
``--reasoning-parser`` name); the base class does the rest the same way for every family whose reasoning is
``OPEN … CLOSE`` before the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from trtllm_nix.proxy.grammar import ebnf_escape, rename_root, text_without
from trtllm_nix.proxy.output_events import ContentText, ReasoningText
from trtllm_nix.proxy.parsers.base import TagSplitter, TextEvent, TextParser


class ReasoningFormat:
    name: ClassVar[str]
    OPEN: ClassVar[str]
    CLOSE: ClassVar[str]
    GAP: ClassVar[int] = 4  # whitespace characters a guide allows between CLOSE and the answer

    def template_kwargs(self, thinking: bool | None) -> dict[str, Any]:
        """The chat template's keyword arguments that switch thinking on (True) or off (False); None: the
        template's default. A family whose template has no such switch sends nothing (this default)."""
        return {}

    def detected(self, token_id: Callable[[str], int | None]) -> bool:
        """``--reasoning-parser auto`` picks the first format whose markers are tokens of the tokenizer."""
        return token_id(self.OPEN) is not None and token_id(self.CLOSE) is not None

    def opened_by(self, generation_prompt: str) -> bool:
        """True when the generation prompt (what the template adds for the answer, never the users' messages: a
        user's marker must not turn the answer into reasoning) ends inside a think block."""
        return generation_prompt.rfind(self.OPEN) > generation_prompt.rfind(self.CLOSE)

    def closed_by(self, generation_prompt: str) -> bool:
        """True when the generation prompt already closed the block (thinking switched off): the answer comes
        directly, and a guide needs no think prefix."""
        return self.CLOSE in generation_prompt

    def splitter(self, thinking_open: bool, content: TextParser | None) -> TextParser:
        """The streaming parser: reasoning as ``ReasoningText``, the answer's text through ``content`` (the
        tool-call format's parser; None: plain content)."""
        return ThinkSplitter(self.OPEN, self.CLOSE, thinking_open, content)

    def guide(self, answer: str) -> str:
        """EBNF: an optional, unconstrained think block, at most ``GAP`` whitespace characters, then ``answer`` (an
        EBNF grammar with a ``root``). Optional, so a turn whose prompt closed the block answers directly."""
        head = (
            f"root ::= (think [ \\n\\t]{{0,{self.GAP}}})? answer\n"
            f'think ::= "{ebnf_escape(self.OPEN)}" think_text "{ebnf_escape(self.CLOSE)}"\n'
            f"think_text ::= {text_without(self.CLOSE)}*\n"
        )
        return head + rename_root(answer, "answer")


class ThinkSplitter(TagSplitter):
    """``OPEN … CLOSE`` reasoning, then the answer. Leading whitespace of the reasoning and of the answer after it is
    layout; the answer's text goes to ``content``."""

    def __init__(self, open_: str, close: str, thinking_open: bool, content: TextParser | None) -> None:
        super().__init__(self._in_reasoning if thinking_open else self._start, at_start=True)
        self._open, self._close = open_, close
        self._content = content

    def finish(self) -> list[TextEvent]:
        return super().finish() + (self._content.finish() if self._content is not None else [])

    def _start(self, final: bool) -> list[TextEvent]:
        stripped = self._buffer.lstrip()
        if stripped.startswith(self._open):
            self._buffer = stripped[len(self._open) :]
            self._step, self._at_start = self._in_reasoning, True
        elif not self._open.startswith(stripped) or final:  # else it could still become the marker: wait
            # an answer without a think block: its text is the model's, leading space included (its tokens carry
            # it; logprobs would not add up)
            self._step, self._at_start = self._in_content, False
        return []

    def _in_reasoning(self, final: bool) -> list[TextEvent]:
        end = self._buffer.find(self._close)
        if end < 0:
            text = self._release(final, (self._close,)).rstrip()
        else:
            text = self._section_text(self._buffer[:end]).rstrip()
            self._buffer = self._buffer[end + len(self._close) :]
            self._step, self._at_start = self._in_content, True
        return [ReasoningText(text)] if text else []

    def _in_content(self, final: bool) -> list[TextEvent]:
        # all of it to a tool-call parser: it holds back what it must itself
        text = self._release(final or self._content is not None, ())
        if self._content is not None:
            return self._content.feed(text) if text else []
        return [ContentText(text)] if text else []
