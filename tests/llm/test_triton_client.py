"""The upstream request: every value range-checked before it is cast to a tensor; guided decoding tensors."""

from __future__ import annotations

import numpy as np
import pytest
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.llm.triton_client import build_infer_request

from tests.helpers import request


@pytest.mark.parametrize(
    "fields",
    [
        {"top_k": 10**12},
        {"max_new_tokens": 2**31},
        {"max_new_tokens": -1},
        {"end_id": 2**31},
        {"seed": -1},
        {"input_ids": [2**31]},
    ],
)
def test_values_that_would_wrap_are_refused(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"ids": [1, 2], "max_new_tokens": 5}
    ids = fields.pop("input_ids", base["ids"])
    max_new = fields.pop("max_new_tokens", base["max_new_tokens"])
    with pytest.raises(ValueError, match="must be"):
        request(ids, max_new, **fields)  # type: ignore[arg-type]


def test_guided_decoding_is_sent_as_two_string_tensors() -> None:
    guided = GuidedDecoding("json_schema", '{"type": "object"}')
    message = build_infer_request("tensorrt_llm", request([1, 2], 5, guided=guided))
    inputs = {
        tensor.name: (tensor, raw) for tensor, raw in zip(message.inputs, message.raw_input_contents, strict=True)
    }
    for name, text in (("guided_decoding_guide_type", "json_schema"), ("guided_decoding_guide", '{"type": "object"}')):
        tensor, raw = inputs[name]
        assert (tensor.datatype, list(tensor.shape)) == ("BYTES", [1, 1])
        assert int(np.frombuffer(raw[:4], dtype="<u4")[0]) == len(text)
        assert raw[4:].decode() == text
    assert "guided_decoding_guide" not in {t.name for t in build_infer_request("m", request([1], 5)).inputs}
