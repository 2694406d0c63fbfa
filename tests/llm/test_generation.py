"""``generate``: Delta events then one Finish; end ids drain the stream, stop strings cancel it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import tracemalloc

import numpy as np
from tokenizers import Tokenizer
from trtllm_nix.llm.events import Delta, Finish, GenerationEvent
from trtllm_nix.llm.generation import generate
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.scoring import log_softmax
from trtllm_nix.llm.triton_client import UpstreamChunk
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import request
from tests.proxy.fake_upstream import FakeUpstream, pieces

ENDOFTEXT = 151643  # a second end id (generation_config.json): sent as a stop word, returned in the final response


def _run(files: ModelFiles, upstream: FakeUpstream, stops: list[str] | None = None) -> list[GenerationEvent]:
    async def collect() -> list[GenerationEvent]:
        return [event async for event in generate(upstream, request([1, 2], 50), files, stops or [])]

    return asyncio.run(collect())


def test_an_end_id_in_the_final_response_drains_the_stream(assets: Assets, tokenizer: Tokenizer) -> None:
    files = ModelFiles.load(assets.tokenizer)
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["Hello", " there"], final_ids=(ENDOFTEXT,)))
    events = _run(files, upstream)
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "Hello there"
    assert events[-1] == Finish("stop", 2, 2, None)
    assert upstream.endings == ["drained"], "a finished stream is read to its end, never cancelled"


def test_an_end_id_mid_answer_drops_the_rest_but_still_drains(assets: Assets, tokenizer: Tokenizer) -> None:
    files = ModelFiles.load(assets.tokenizer)
    script = pieces(tokenizer, ["Hello"])[:-1] + pieces(tokenizer, [" x"], final_ids=(ENDOFTEXT,))
    script.insert(1, type(script[0])([ENDOFTEXT, 99], None, False))  # type: ignore[call-arg]
    events = _run(files, FakeUpstream(lambda _: script))
    assert [e.text for e in events if isinstance(e, Delta)] == ["Hello"]
    assert isinstance(events[-1], Finish)
    assert events[-1].completion_tokens == 1


def test_a_stop_string_cancels_the_rest(assets: Assets, tokenizer: Tokenizer) -> None:
    files = ModelFiles.load(assets.tokenizer)
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["one", " two", " three", " four"]))
    events = _run(files, upstream, stops=["three"])
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "one two "
    assert events[-1] == Finish("stop", 2, 3, "three")
    assert upstream.endings == ["cancelled"]


def test_every_delta_carries_its_tokens_and_logprobs(assets: Assets, tokenizer: Tokenizer) -> None:
    files = ModelFiles.load(assets.tokenizer)
    events = _run(files, FakeUpstream(lambda _: pieces(tokenizer, ["a", "é", "🎉"], logprob=-1.0)))
    deltas = [e for e in events if isinstance(e, Delta)]
    assert sum(len(d.token_ids) for d in deltas) == len(tokenizer.encode("aé🎉", add_special_tokens=False).ids)
    assert all(d.logprobs is not None and len(d.logprobs) == len(d.token_ids) for d in deltas)
    assert "".join(d.text for d in deltas) == "aé🎉"


def test_an_answer_ended_at_once_is_scored_from_the_prompts_last_row(assets: Assets) -> None:
    """The backend returns no token when the first one is an end token; a scoring request (echo + logprobs, what
    lm-eval's loglikelihood sends) still gets that token's entry, from the context logits' last row."""
    files = ModelFiles.load(assets.tokenizer)
    vocabulary = files.tokenizer.get_vocab_size(with_added_tokens=True)
    logits = np.zeros((2, vocabulary), dtype=np.float32)
    logits[0, 2] = 20.0  # the prompt's second token is likely
    logits[1, ENDOFTEXT] = 20.0  # after the prompt: an end token
    final = UpstreamChunk([], [], True, context_logits=logits)
    scoring = dataclasses.replace(
        request([1, 2], 1), return_context_logits=True, keep_end_token=True, return_log_probs=True
    )

    async def collect() -> list[GenerationEvent]:
        return [event async for event in generate(FakeUpstream(lambda _: [final]), scoring, files, [])]

    events = asyncio.run(collect())
    delta, finish = events[0], events[-1]
    assert isinstance(delta, Delta)
    assert isinstance(finish, Finish)
    assert (delta.text, delta.token_ids) == ("", (ENDOFTEXT,))
    assert delta.logprobs is not None
    assert delta.logprobs[0] == max(float(v) for v in finish.prompt.following)  # type: ignore[union-attr]
    assert (finish.reason, finish.completion_tokens) == ("stop", 1)
    assert finish.prompt is not None
    assert finish.prompt.logprobs[0] is None
    assert finish.prompt.logprobs[1] > -1.0


def test_prompt_scoring_runs_off_the_event_loop(assets: Assets) -> None:
    """echo + logprobs on a long prompt: the log-softmax over every row of the context logits (7.4 ms a
    151,936-wide row in float64 on the loop) must not freeze the other streams; a ticker on the loop keeps
    ticking while it runs."""
    files = ModelFiles.load(assets.tokenizer)
    vocabulary = files.tokenizer.get_vocab_size(with_added_tokens=True)
    rows = 160
    logits = np.random.default_rng(7).standard_normal((rows, vocabulary), dtype=np.float32)
    final = UpstreamChunk([], [], True, context_logits=logits)
    scoring = dataclasses.replace(
        request(list(range(1, rows + 1)), 1), return_context_logits=True, return_log_probs=True, top_logprobs=5
    )

    async def run() -> tuple[float, float]:
        gaps: list[float] = []
        scored = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not scored.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticking = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.02)  # the ticker runs before the scoring starts
        started = time.perf_counter()
        events = [event async for event in generate(FakeUpstream(lambda _: [final]), scoring, files, [])]
        took = time.perf_counter() - started
        scored.set()
        await ticking
        assert isinstance(events[-1], Finish)
        assert events[-1].prompt is not None
        return max(gaps), took

    worst, took = asyncio.run(run())
    assert took > 0.05, "the scoring must take a while for this test to show anything"
    assert worst < took / 2, (worst, took)


def test_log_softmax_is_float32_with_a_float64_sum() -> None:
    rows = np.random.default_rng(3).standard_normal((4, 151_936), dtype=np.float32) * 8
    exact = rows.astype(np.float64)
    exact = exact - exact.max(axis=-1, keepdims=True)
    exact = exact - np.log(np.exp(exact).sum(axis=-1, keepdims=True))
    tracemalloc.start()
    result = log_softmax(rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * rows.nbytes, f"temporaries of {peak / rows.nbytes:.1f}x the logits (float64 copies are 8x)"
    assert result.dtype == np.float32
    assert np.abs(result - exact).max() < 1e-5
    assert np.abs(np.exp(result.astype(np.float64)).sum(axis=-1) - 1).max() < 1e-5
