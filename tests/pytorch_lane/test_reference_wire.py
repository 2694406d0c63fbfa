"""The reference TrtllmService on the wire, as TensorRT-LLM's servicer answers (trtllm_service_facts.json), and
the proxy's GenerateRequest for the proxy's own request values."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from smg_grpc_proto import trtllm_service_pb2 as pb
from smg_grpc_proto import trtllm_service_pb2_grpc as pb_grpc
from tokenizers import Tokenizer
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.llm.trtllm_grpc import build_generate_request
from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.pytorch_lane.conftest import CONTEXT


def _call(server: TrtllmServiceThread, method: str, message: Any) -> Any:
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.TrtllmServiceStub(channel)
        answer = getattr(stub, method)(message, timeout=30)
        return list(answer) if method == "Generate" else answer


def _prompt(tokenizer: Tokenizer, reply: str) -> list[int]:
    return list(tokenizer.encode(f"<|im_start|>user\n#reply: {reply}<|im_end|>\n<|im_start|>assistant\n").ids)


def test_info_and_health(trtllm_service: TrtllmServiceThread) -> None:
    info = _call(trtllm_service, "GetModelInfo", pb.GetModelInfoRequest())
    assert (info.model_id, info.max_seq_len, info.vocab_size) == ("qwen3", CONTEXT, 151669)
    assert _call(trtllm_service, "GetServerInfo", pb.GetServerInfoRequest()).backend == "tensorrt-llm"
    assert _call(trtllm_service, "HealthCheck", pb.HealthCheckRequest()).status == "OK"


def test_abort_of_an_unknown_request_says_not_found(trtllm_service: TrtllmServiceThread) -> None:
    answer = _call(trtllm_service, "Abort", pb.AbortRequest(request_id="nobody"))
    assert (answer.success, answer.message) == (False, "Request nobody not found")


def test_missing_tokenized_input_is_invalid_argument(trtllm_service: TrtllmServiceThread) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _call(trtllm_service, "Generate", pb.GenerateRequest(request_id="r", max_tokens=4))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert raised.value.details() == "Missing tokenized input"  # type: ignore[attr-defined]


def test_not_streaming_answers_one_complete_per_sequence(
    trtllm_service: TrtllmServiceThread, tokenizer: Tokenizer
) -> None:
    request = pb.GenerateRequest(
        request_id="n2",
        tokenized=pb.TokenizedInput(input_token_ids=_prompt(tokenizer, "two words")),
        sampling_config=pb.SamplingConfig(num_return_sequences=2),
        max_tokens=16,
    )
    answers = _call(trtllm_service, "Generate", request)
    assert [a.WhichOneof("response") for a in answers] == ["complete", "complete"]
    completes = sorted((a.complete for a in answers), key=lambda c: c.sequence_index)
    assert [c.sequence_index for c in completes] == [0, 1]
    for complete in completes:
        assert tokenizer.decode(list(complete.output_token_ids)) == "two words"
        assert (complete.finish_reason, complete.matched_token_id) == ("stop", 151645)  # the end id, left out


def test_streaming_sends_deltas_then_the_cumulative_complete(
    trtllm_service: TrtllmServiceThread, tokenizer: Tokenizer
) -> None:
    request = pb.GenerateRequest(
        request_id="s1",
        tokenized=pb.TokenizedInput(input_token_ids=_prompt(tokenizer, "a b c d")),
        max_tokens=3,
        streaming=True,
        output_config=pb.OutputConfig(logprobs=1),
    )
    answers = _call(trtllm_service, "Generate", request)
    chunks = [a.chunk for a in answers if a.WhichOneof("response") == "chunk"]
    complete = answers[-1].complete
    assert [len(c.token_ids) for c in chunks] == [1, 1, 1]
    assert [c.completion_tokens for c in chunks] == [1, 2, 3]
    assert list(complete.output_token_ids) == [t for c in chunks for t in c.token_ids]
    assert complete.finish_reason == "length"
    assert all(len(c.logprobs) == 1 and c.logprobs[0].token_id == c.token_ids[0] for c in chunks)


def _upstream(**fields: Any) -> UpstreamRequest:
    base: dict[str, Any] = {"input_ids": [1, 2], "max_new_tokens": 8, "end_id": 151645, "pad_id": 151643}
    return UpstreamRequest(**{**base, **fields})


def test_a_request_with_no_sampling_knob_is_sent_greedy() -> None:
    """The servicer fills in temperature 1.0 and top_p 1.0 (it would sample) where Triton decodes greedily."""
    message = build_generate_request(_upstream(), "id")
    assert message.sampling_config.top_k == 1
    assert not message.sampling_config.HasField("temperature")
    sampled = build_generate_request(_upstream(temperature=0.7, top_p=0.9), "id").sampling_config
    assert not sampled.HasField("top_k")
    assert sampled.temperature == pytest.approx(0.7)


def test_end_ids_go_as_stop_token_ids_and_ignore_eos_replaces_end_id_minus_one() -> None:
    message = build_generate_request(_upstream(stop_token_sequences=[[151643]]), "id")
    assert (list(message.stop_token_ids), message.ignore_eos) == ([151645, 151643], False)
    endless = build_generate_request(_upstream(end_id=-1), "id")
    assert (list(endless.stop_token_ids), endless.ignore_eos) == ([], True)


def test_logprobs_and_guides() -> None:
    message = build_generate_request(_upstream(return_log_probs=True), "id")
    assert message.output_config.logprobs == 1  # the chosen token's, read from the server's top-k entries
    top = build_generate_request(_upstream(return_generation_logits=True, top_logprobs=5), "id")
    assert top.output_config.logprobs == 5
    guided = build_generate_request(_upstream(guided=GuidedDecoding("json", "")), "id").guided_decoding
    assert (guided.guide_type, guided.guide) == (pb.GuidedDecodingParams.GUIDE_TYPE_JSON, "{}")  # read only when set


def test_an_unhealthy_server_takes_the_model_out_of_ready(trtllm_service: TrtllmServiceThread) -> None:
    from trtllm_nix.llm.trtllm_grpc import TrtllmGrpcUpstream

    async def ready() -> bool:
        upstream = TrtllmGrpcUpstream(trtllm_service.target)
        try:
            return await upstream.ready()
        finally:
            await upstream.close()

    trtllm_service.servicer.health = "Executor is unhealthy"
    try:
        assert asyncio.run(ready()) is False
    finally:
        trtllm_service.servicer.health = "OK"
    assert asyncio.run(ready()) is True


@pytest.mark.parametrize(("include", "expected"), [(False, "a b"), (True, "a b c")])
def test_a_stop_string_ends_with_matched_stop_str(
    trtllm_service: TrtllmServiceThread, tokenizer: Tokenizer, include: bool, expected: str
) -> None:
    request = pb.GenerateRequest(
        request_id="stop-string",
        tokenized=pb.TokenizedInput(input_token_ids=_prompt(tokenizer, "a b c d e")),
        max_tokens=16,
        stop=[" c"],  # tokenized by the server on its own, as TensorRT-LLM does: " c" is the token in the output
        include_stop_token_in_output=include,
    )
    complete = _call(trtllm_service, "Generate", request)[-1].complete
    assert (complete.finish_reason, complete.matched_stop_str) == ("stop", " c")
    assert tokenizer.decode(list(complete.output_token_ids)) == expected
