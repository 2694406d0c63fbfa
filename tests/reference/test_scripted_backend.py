"""The reference backend speaks TensorRT-LLM's protocol over real gRPC: streaming, limits, stops, cancellation."""

from __future__ import annotations

import asyncio

import pytest
from tokenizers import Tokenizer
from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamError

from tests.helpers import RunningTriton, collect, generate, request, tokens_of, wait_until


def _prompt(tokenizer: Tokenizer, reply: str) -> list[int]:
    text = f"<|im_start|>user\n#reply: {reply}<|im_end|>\n<|im_start|>assistant\n"
    return list(tokenizer.encode(text, add_special_tokens=False).ids)


def test_streams_one_response_per_token_and_marks_the_last(
    scripted_triton: RunningTriton, tokenizer: Tokenizer
) -> None:
    reply = "Hello 世界 🎉 naïve"
    chunks = generate(scripted_triton.server.grpc_url, request(_prompt(tokenizer, reply), 64))
    expected = tokenizer.encode(reply, add_special_tokens=False).ids
    assert [c.token_ids for c in chunks if c.token_ids] == [[t] for t in expected]
    assert [c.final for c in chunks] == [False] * len(expected) + [True]
    assert tokenizer.decode(tokens_of(chunks)) == reply


def test_stops_at_request_output_len_on_the_final_response(
    scripted_triton: RunningTriton, tokenizer: Tokenizer
) -> None:
    chunks = generate(scripted_triton.server.grpc_url, request(_prompt(tokenizer, "one two three four five"), 3))
    assert len(tokens_of(chunks)) == 3
    assert chunks[-1].final
    assert chunks[-1].token_ids


def test_without_marker_a_fixed_sentence(scripted_triton: RunningTriton, tokenizer: Tokenizer) -> None:
    ids = list(tokenizer.encode("plain completion prompt").ids)
    chunks = generate(scripted_triton.server.grpc_url, request(ids, 100))
    assert tokenizer.decode(tokens_of(chunks)) == "This is the scripted reference backend of trtllm-nix."


def test_stop_words_list_ends_generation_with_the_word(scripted_triton: RunningTriton, tokenizer: Tokenizer) -> None:
    reply = "alpha beta<|endoftext|>gamma"
    chunks = generate(
        scripted_triton.server.grpc_url, request(_prompt(tokenizer, reply), 50, stop_token_sequences=[[151643]])
    )
    assert tokens_of(chunks)[-1] == 151643
    assert tokenizer.decode(tokens_of(chunks)) == "alpha beta"


def test_concurrent_requests_advance_together(scripted_triton: RunningTriton, tokenizer: Tokenizer) -> None:
    url = scripted_triton.server.grpc_url
    order: list[str] = []

    async def run(name: str) -> None:
        upstream = TritonUpstream(url)
        try:
            req = request(_prompt(tokenizer, "a b c d e f g h"), 8, parameters={"token_delay_ms": 20})
            async for chunk in upstream.generate(req):
                if chunk.token_ids:
                    order.append(name)
        finally:
            await upstream.close()

    async def both() -> None:
        await asyncio.gather(run("x"), run("y"))

    asyncio.run(both())
    assert sorted(order) == ["x"] * 8 + ["y"] * 8
    first_done = max(order.index("x"), order.index("y"))
    assert first_done < 8, f"one request waited for the other: {order}"


def test_cancelled_stream_stops_the_backend(scripted_triton: RunningTriton, tokenizer: Tokenizer) -> None:
    before = scripted_triton.stats()

    async def cancel_after_three() -> int:
        upstream = TritonUpstream(scripted_triton.server.grpc_url)
        try:
            # 4000 tokens at 10 ms, no end id: it cannot finish before the cancellation arrives
            req = request(_prompt(tokenizer, "word " * 200), 4000, end_id=-1, parameters={"token_delay_ms": 10})
            seen = 0
            stream = upstream.generate(req)
            async for chunk in stream:
                seen += len(chunk.token_ids)
                if seen >= 3:
                    break
            await stream.aclose()
            return seen
        finally:
            await upstream.close()

    assert asyncio.run(cancel_after_three()) == 3
    wait_until(lambda: scripted_triton.stats()["cancelled"] == before["cancelled"] + 1, 30, "the cancellation")
    after = scripted_triton.stats()
    assert after["finished"] == before["finished"], "cancelled, not run to its end"
    assert after["tokens"] - before["tokens"] < 4000


def test_broken_request_gets_a_triton_error_and_the_model_lives_on(
    scripted_triton: RunningTriton, tokenizer: Tokenizer
) -> None:
    bad = request([1, 2, 3], 5, stop_token_sequences=[])
    bad_message = bad.__class__(**{**bad.__dict__, "max_new_tokens": 0})
    with pytest.raises(UpstreamError, match="request_output_len must be at least 1"):
        asyncio.run(collect(scripted_triton.server.grpc_url, bad_message))
    chunks = generate(scripted_triton.server.grpc_url, request(_prompt(tokenizer, "still alive"), 10))
    assert tokenizer.decode(tokens_of(chunks)) == "still alive"
