"""The ``tensorrt_llm`` model's tensor contract (TensorRT-LLM's Triton backend), as typed protobuf messages.

Dims exclude the batch dimension. Scalars are ``dims: [1]`` with an empty ``reshape``, as upstream declares them,
so clients send ``[1, 1]`` and the backend sees one value per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tritonclient.grpc import model_config_pb2 as pb


@dataclass(frozen=True)
class Tensor:
    name: str
    data_type: int
    dims: tuple[int, ...] = (1,)
    scalar: bool = False
    optional: bool = True
    ragged: bool = False

    def as_input(self) -> pb.ModelInput:
        message = pb.ModelInput(name=self.name, data_type=self.data_type, dims=list(self.dims))
        if self.scalar:
            message.reshape.SetInParent()
        message.optional = self.optional
        if self.ragged:
            message.allow_ragged_batch = True
        return message

    def as_output(self) -> pb.ModelOutput:
        return pb.ModelOutput(name=self.name, data_type=self.data_type, dims=list(self.dims))


def _scalar(name: str, data_type: int, optional: bool = True) -> Tensor:
    return Tensor(name, data_type, (1,), scalar=True, optional=optional)


I32, F32, U64, BOOL, U8, F16 = pb.TYPE_INT32, pb.TYPE_FP32, pb.TYPE_UINT64, pb.TYPE_BOOL, pb.TYPE_UINT8, pb.TYPE_FP16
STRING, I64 = pb.TYPE_STRING, pb.TYPE_INT64

TENSORRT_LLM_INPUTS: Final = (
    Tensor("input_ids", I32, (-1,), ragged=True),  # optional upstream too (encoder-decoder models)
    _scalar("input_lengths", I32, optional=False),
    _scalar("request_output_len", I32, optional=False),
    _scalar("end_id", I32),
    _scalar("pad_id", I32),
    _scalar("streaming", BOOL),
    _scalar("exclude_input_in_output", BOOL),
    Tensor("stop_words_list", I32, (2, -1), ragged=True),
    Tensor("bad_words_list", I32, (2, -1), ragged=True),
    Tensor("embedding_bias", F32, (-1,), ragged=True),
    _scalar("runtime_top_k", I32),
    _scalar("runtime_top_p", F32),
    # Upstream quirk: utils.h reads this input as "runtime_top_k_min" (InputFieldsNames::topPMin), so the real
    # backend accepts runtime_top_p_min and ignores it (upstream_facts.json cpp_backend.input_field_names).
    _scalar("runtime_top_p_min", F32),
    _scalar("runtime_top_p_decay", F32),
    _scalar("runtime_top_p_reset_ids", I32),
    _scalar("temperature", F32),
    _scalar("len_penalty", F32),
    _scalar("early_stopping", BOOL),
    _scalar("repetition_penalty", F32),
    _scalar("min_tokens", I32),
    _scalar("beam_search_diversity_rate", F32),
    _scalar("presence_penalty", F32),
    _scalar("frequency_penalty", F32),
    _scalar("seed", U64),
    _scalar("return_log_probs", BOOL),
    _scalar("return_context_logits", BOOL),
    _scalar("return_generation_logits", BOOL),
    _scalar("return_perf_metrics", BOOL),
    _scalar("return_num_input_tokens", BOOL),
    _scalar("return_num_output_tokens", BOOL),
    _scalar("beam_width", I32),
    _scalar("num_return_sequences", I32),
    _scalar("stop", BOOL),
    _scalar("lora_task_id", U64),
    Tensor("lora_weights", F16, (-1, -1), ragged=True),
    Tensor("lora_config", I32, (-1, 3), ragged=True),
    Tensor("guided_decoding_guide_type", STRING, (1,), ragged=True),  # no reshape upstream
    Tensor("guided_decoding_guide", STRING, (1,), ragged=True),
)

TENSORRT_LLM_OUTPUTS: Final = (
    Tensor("output_ids", I32, (-1, -1)),
    Tensor("sequence_length", I32, (-1,)),
    Tensor("cum_log_probs", F32, (-1,)),
    Tensor("output_log_probs", F32, (-1, -1)),
    # ${logits_datatype} upstream: the engine's logits dtype, float32 as trtllm-build gets no --logits_dtype.
    Tensor("context_logits", F32, (-1, -1)),
    Tensor("generation_logits", F32, (-1, -1, -1)),
    Tensor("batch_index", I32, (1,)),
    Tensor("sequence_index", I32, (1,)),
    Tensor("num_input_tokens", I32, (1,)),
    Tensor("num_output_tokens", I32, (1,)),
    # Written whenever a request sets return_perf_metrics (fillTritonResponse), so they must be declared.
    Tensor("kv_cache_alloc_new_blocks", I32, (1,)),
    Tensor("kv_cache_reused_blocks", I32, (1,)),
    Tensor("kv_cache_alloc_total_blocks", I32, (1,)),
    Tensor("arrival_time_ns", I64, (1,)),
    Tensor("first_scheduled_time_ns", I64, (1,)),
    Tensor("first_token_time_ns", I64, (1,)),
    Tensor("last_token_time_ns", I64, (1,)),
    Tensor("acceptance_rate", F32, (1,)),
    Tensor("total_accepted_draft_tokens", I32, (1,)),
    Tensor("total_draft_tokens", I32, (1,)),
)
