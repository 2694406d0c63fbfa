"""The upstream request: every value range-checked before it is cast to a tensor; guided decoding tensors."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.llm.triton_client import KEEPALIVE_PERMIT_WITHOUT_CALLS, KEEPALIVE_TIME_MS, build_infer_request
from trtllm_nix.triton.runtime import TritonRuntime

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


def _server_default(help_text: str, flag: str) -> int:
    found = re.search(re.escape(flag) + r" <\w+>.*?Default is (\d+)", help_text, re.DOTALL)
    assert found, flag
    return int(found.group(1))


def test_keepalive_pings_stay_within_what_a_default_tritonserver_accepts() -> None:
    """A ping sooner than the server's minimum interval is a strike; two strikes and the server sends GOAWAY
    ("too_many_pings"), failing every stream in flight with a 503 (seen in CI during a long guided prefill)."""
    runtime = TritonRuntime.from_wheel()
    result = subprocess.run(
        [str(runtime.binary), "--help"], env=runtime.environment(), capture_output=True, text=True, timeout=60
    )
    help_text = result.stdout + result.stderr
    assert _server_default(help_text, "--grpc-http2-min-recv-ping-interval-without-data") <= KEEPALIVE_TIME_MS
    assert _server_default(help_text, "--grpc-keepalive-permit-without-calls") >= KEEPALIVE_PERMIT_WITHOUT_CALLS
