"""Streaming helpers shared by the formats' parsers: text may arrive split anywhere, even inside a tag."""

from __future__ import annotations


def held_prefix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of one of ``tags``."""
    if not tags:
        return 0
    for size in range(min(len(text), max(len(t) for t in tags) - 1), 0, -1):
        if any(tag.startswith(text[-size:]) for tag in tags):
            return size
    return 0


class Section:
    """Leading whitespace of a section (the reasoning, the answer after it, the text after a call) is layout."""

    def __init__(self, at_start: bool) -> None:
        self.at_start = at_start

    def text(self, text: str) -> str:
        if self.at_start:
            text = text.lstrip()
            self.at_start = not text
        return text


def take_safe(buffer: str, tags: tuple[str, ...]) -> tuple[str, str]:
    """``(released, held)``: hold what could still become one of ``tags``, and trailing whitespace (it may precede
    a tag that ends the section, and a section's trailing whitespace is dropped)."""
    keep = held_prefix(buffer, tags)
    body = buffer[: len(buffer) - keep]
    keep += len(body) - len(body.rstrip())
    return buffer[: len(buffer) - keep], buffer[len(buffer) - keep :]
