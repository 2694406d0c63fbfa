"""Property tests: any split of a token stream gives the same text through the detokenizer and the stop-string
matcher; ids that are not valid UTF-8 on their own never crash them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer
from trtllm_nix.llm.decoders import IncrementalDetokenizer, StopMatcher

# Byte-level tokens (many are parts of multi-byte characters), common words, emoji pieces and specials.
IDS = st.lists(
    st.one_of(
        st.integers(0, 255),
        st.integers(9000, 9800),
        st.sampled_from([11162, 236, 231, 145233, 378, 235, 99489, 151645, 151667, 151668]),
    ),
    max_size=60,
)


def _splits(items: list[int], cuts: list[int]) -> list[list[int]]:
    points = sorted({c % (len(items) + 1) for c in cuts})
    return [items[a:b] for a, b in zip([0, *points], [*points, len(items)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(ids=IDS, cuts=st.lists(st.integers(0, 100), max_size=10))
def test_detokenizer_split_invariance(tokenizer: Tokenizer, ids: list[int], cuts: list[int]) -> None:
    detokenizer = IncrementalDetokenizer(tokenizer)
    streamed = "".join(detokenizer.push(chunk) for chunk in _splits(ids, cuts)) + detokenizer.finish()
    assert streamed == tokenizer.decode(ids, skip_special_tokens=True)


TEXT = st.text(alphabet=st.sampled_from(list("ab c\n東🎉STOP")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    text=TEXT,
    stops=st.lists(st.text(alphabet=st.sampled_from(list("ab cSTOP🎉")), min_size=1, max_size=4), max_size=3),
    cuts=st.lists(st.integers(0, 50), max_size=8),
)
def test_stop_matcher_split_invariance(text: str, stops: list[str], cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(piece) for piece in pieces) + matcher.flush()
    # The first stop to be completed ends the text (earliest end; of two ending together, the earlier start).
    hits = [(text.find(stop) + len(stop), text.find(stop)) for stop in stops if stop and text.find(stop) >= 0]
    assert out == (text[: min(hits)[1]] if hits else text)


def test_stop_matcher_stops_where_generation_would() -> None:
    """Overlapping stops ("O" completes before "POO"): the same cut whether the text arrives whole or in pieces."""
    whole = StopMatcher(["O", "POO"])
    pieces = StopMatcher(["O", "POO"])
    assert whole.feed("POO") + whole.flush() == "P"
    assert pieces.feed("PO") + pieces.feed("O") + pieces.flush() == "P"
