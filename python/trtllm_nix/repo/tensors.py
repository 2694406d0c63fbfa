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
STRING = pb.TYPE_STRING

TENSORRT_LLM_INPUTS: Final = (
    Tensor("input_ids", I32, (-1,), optional=False, ragged=True),
    _scalar("input_lengths", I32, optional=False),
    _scalar("request_output_len", I32, optional=False),
    _scalar("end_id", I32),
    _scalar("pad_id", I32),
    _scalar("streaming", BOOL),
    _scalar("exclude_input_in_output", BOOL),
    Tensor("stop_words_list", I32, (2, -1)),
    Tensor("bad_words_list", I32, (2, -1)),
    Tensor("embedding_bias", F32, (-1,)),
    _scalar("runtime_top_k", I32),
    _scalar("runtime_top_p", F32),
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
    _scalar("guided_decoding_guide_type", STRING),
    _scalar("guided_decoding_guide", STRING),
)

TENSORRT_LLM_OUTPUTS: Final = (
    Tensor("output_ids", I32, (-1, -1)),
    Tensor("sequence_length", I32, (-1,)),
    Tensor("cum_log_probs", F32, (-1,)),
    Tensor("output_log_probs", F32, (-1, -1)),
    Tensor("context_logits", F32, (-1, -1)),
    Tensor("generation_logits", F32, (-1, -1, -1)),
    Tensor("batch_index", I32, (1,)),
    Tensor("sequence_index", I32, (1,)),
    Tensor("num_input_tokens", I32, (1,)),
    Tensor("num_output_tokens", I32, (1,)),
)
