"""Token ids to text, incrementally and byte-correctly, and stop strings matched on the decoded text.

``IncrementalDetokenizer`` emits text only once its bytes form whole characters (``tokenizers``' DecodeStream),
and ``finish()`` flushes the rest, so the concatenation of everything it emitted always equals decoding all the
ids at once. ``StopMatcher`` holds back only the tail that could still become a stop string.
"""

from __future__ import annotations

from tokenizers import Tokenizer
from tokenizers.decoders import DecodeStream


class IncrementalDetokenizer:
    def __init__(self, tokenizer: Tokenizer, skip_special_tokens: bool = True) -> None:
        self._tokenizer = tokenizer
        self._skip = skip_special_tokens
        self._stream = DecodeStream(skip_special_tokens=skip_special_tokens)
        self.ids: list[int] = []
        self._emitted: list[str] = []

    def push(self, ids: list[int]) -> str:
        self.ids.extend(ids)
        text = "".join([piece for token in ids if (piece := self._stream.step(self._tokenizer, token))])
        if text:
            self._emitted.append(text)
        return text

    def finish(self) -> str:
        """The text not yet emitted: a trailing partial character, decoded with replacement characters."""
        full = str(self._tokenizer.decode(self.ids, skip_special_tokens=self._skip))
        emitted = "".join(self._emitted)
        if not full.startswith(emitted):  # never seen with byte-level BPE; keep the stream's own text
            return ""
        rest = full[len(emitted) :]
        if rest:
            self._emitted.append(rest)
        return rest


class StopMatcher:
    """Cuts the text at the first stop string to be completed; the stop string itself is never emitted."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = [s for s in dict.fromkeys(stops) if s]
        self._buffer = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        if not self._stops:
            return text
        if self.matched is not None:
            return ""
        self._buffer += text
        # The stop that a generation completes first wins (the earliest end; of two ending together, the longer):
        # that is where a model generating token by token would have been stopped, whatever the split.
        cut, end = -1, -1
        for stop in self._stops:
            index = self._buffer.find(stop)
            if index >= 0 and (end < 0 or (index + len(stop), index) < (end, cut)):
                cut, end, self.matched = index, index + len(stop), stop
        if cut >= 0:
            out, self._buffer = self._buffer[:cut], ""
            return out
        hold = self._held_tail()
        out = self._buffer[: len(self._buffer) - hold]
        self._buffer = self._buffer[len(self._buffer) - hold :]
        return out

    def flush(self) -> str:
        out, self._buffer = self._buffer, ""
        return out if self.matched is None else ""

    def _held_tail(self) -> int:
        """Length of the longest buffer suffix that is a proper prefix of some stop string."""
        longest = min(len(self._buffer), max(len(s) for s in self._stops) - 1)
        for size in range(longest, 0, -1):
            tail = self._buffer[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0
