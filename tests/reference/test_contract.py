"""Parsing the tensorrt_llm request contract: every broken request is a BadRequest with a clear reason."""

from __future__ import annotations

import numpy as np
import pytest
from trtllm_nix.llm.upstream_types import word_list
from trtllm_nix_testkit.reference.contract import BadRequest, Sampling, parse_request, parse_word_list


def _getter(**tensors: object):  # type: ignore[no-untyped-def]
    arrays = {name: np.asarray(value) for name, value in tensors.items()}
    return lambda name: arrays.get(name)


def test_full_request_is_parsed() -> None:
    get = _getter(
        input_ids=[[5, 6, 7, 8]],
        input_lengths=[3],
        request_output_len=[9],
        end_id=[2],
        streaming=[True],
        temperature=[np.float32(0.5)],
        runtime_top_k=[4],
        seed=[np.uint64(7)],
        stop_words_list=word_list([[1, 2], [3]]),
    )
    parsed = parse_request(get, {"token_delay_ms": 20})
    assert parsed.input_ids == (5, 6, 7)
    assert (parsed.max_new_tokens, parsed.end_id, parsed.streaming) == (9, 2, True)
    assert parsed.sampling == Sampling(temperature=0.5, top_k=4, seed=7)
    assert parsed.stop_sequences == ((1, 2), (3,))
    assert parsed.token_delay_s == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"input_lengths": [1], "request_output_len": [1]}, "input_ids is required"),
        ({"input_ids": [[1]], "request_output_len": [1]}, "input_lengths is required"),
        ({"input_ids": [[1, 2]], "input_lengths": [3], "request_output_len": [1]}, "input_lengths is 3 but"),
        ({"input_ids": [[1]], "input_lengths": [1], "request_output_len": [0]}, "at least 1"),
        ({"input_ids": [[1], [2]], "input_lengths": [1], "request_output_len": [1]}, "one sequence per request"),
        ({"input_ids": [[1]], "input_lengths": [1], "request_output_len": [1], "end_id": [1, 2]}, "one value"),
    ],
)
def test_broken_requests_are_refused(tensors: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_request(_getter(**tensors), {})


def test_word_list_round_trip_and_padding() -> None:
    encoded = word_list([[151643], [10, 11, 12]])
    assert encoded.tolist() == [[[151643, 10, 11, 12], [1, 4, -1, -1]]]
    assert parse_word_list(encoded) == ((151643,), (10, 11, 12))
    with pytest.raises(BadRequest, match="not increasing"):
        parse_word_list(np.asarray([[1, 2], [2, 1]]))


@pytest.mark.parametrize(
    ("sampling", "greedy"),
    [
        (Sampling(), True),
        (Sampling(temperature=0.0), True),
        (Sampling(top_k=1, temperature=0.7), True),
        (Sampling(temperature=0.7), False),
        (Sampling(top_p=0.9), False),
    ],
)
def test_greedy_follows_tensorrt_llm(sampling: Sampling, greedy: bool) -> None:
    assert sampling.greedy is greedy
