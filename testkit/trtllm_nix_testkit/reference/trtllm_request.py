"""A ``TrtllmService`` ``GenerateRequest`` read as TensorRT-LLM's servicer reads it (``trtllm_service_facts.json``),
into the reference engine's own ``GenerationRequest``: one per returned sequence.

What the servicer fills in, the reference fills in the same way: temperature 1.0 and top_p 1.0 when absent, the
end id from the model (never from the wire), stop strings tokenized by the server. What the reference does not
offer (beam search, LoRA, multimodal input, disaggregation, embedding bias) is an ``INVALID_ARGUMENT`` naming it,
never ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from smg_grpc_proto import trtllm_service_pb2 as pb
from tokenizers import Tokenizer

from trtllm_nix_testkit.reference.contract import GenerationRequest, GuidedRequest, Sampling

GUIDE_TYPES = {
    pb.GuidedDecodingParams.GUIDE_TYPE_JSON: "json",
    pb.GuidedDecodingParams.GUIDE_TYPE_JSON_SCHEMA: "json_schema",
    pb.GuidedDecodingParams.GUIDE_TYPE_REGEX: "regex",
    pb.GuidedDecodingParams.GUIDE_TYPE_EBNF_GRAMMAR: "ebnf_grammar",
}
UNOFFERED = (  # optional fields the real servicer maps and the reference server does not
    "lora_config",
    "prompt_tuning_config",
    "multimodal_input",
    "kv_cache_retention",
    "disaggregated_params",
    "lookahead_config",
)


class InvalidRequest(ValueError):
    """What the servicer answers with ``INVALID_ARGUMENT`` (its ``ValueError`` path)."""


@dataclass(frozen=True)
class ServedModel:
    tokenizer: Tokenizer
    eos_token_id: int
    max_seq_len: int


@dataclass(frozen=True)
class ReadRequest:
    """The sequences to generate (``n`` of them, seeds ``seed``, ``seed + 1``, ...), and what the answer carries."""

    sequences: tuple[GenerationRequest, ...]
    stop_token_ids: frozenset[int]
    include_stop_token: bool
    logprobs: int | None  # top-k per token when asked (0: the chosen token's only)
    stop_strings: tuple[tuple[tuple[int, ...], str], ...] = ()  # each stop string's tokens, and the string

    def stop_string_at_end(self, output: list[int]) -> tuple[str, int] | None:
        """The stop string the output ends with, and how many tokens it took."""
        for tokens, text in self.stop_strings:
            if tokens and len(output) >= len(tokens) and tuple(output[-len(tokens) :]) == tokens:
                return text, len(tokens)
        return None


def read_request(message: pb.GenerateRequest, model: ServedModel) -> ReadRequest:
    if not message.HasField("tokenized"):
        raise InvalidRequest("Missing tokenized input")
    prompt = tuple(message.tokenized.input_token_ids)
    if not prompt:
        raise InvalidRequest("the prompt has no tokens")
    if message.max_tokens < 1:
        raise InvalidRequest(f"max_tokens must be at least 1, got {message.max_tokens}")
    if len(prompt) + message.max_tokens > model.max_seq_len:
        raise InvalidRequest(
            f"prompt {len(prompt)} + max_tokens {message.max_tokens} is more than max_seq_len {model.max_seq_len}"
        )
    for name in UNOFFERED:
        if message.HasField(name):
            raise InvalidRequest(f"{name} is not offered by the reference TrtllmService")
    if message.embedding_bias:
        raise InvalidRequest("embedding_bias is not offered by the reference TrtllmService")
    config = message.sampling_config
    if config.beam_width > 1:
        raise InvalidRequest("beam search (beam_width > 1) is not offered by the reference TrtllmService")
    stops = set(message.stop_token_ids)
    words: list[tuple[int, ...]] = [(token,) for token in sorted(stops)]
    strings = tuple((tuple(model.tokenizer.encode(text, add_special_tokens=False).ids), text) for text in message.stop)
    words += [tokens for tokens, _ in strings]  # TensorRT-LLM tokenizes stop strings itself
    seed = config.seed if config.HasField("seed") else 0
    output = message.output_config
    logprobs = output.logprobs if output.HasField("logprobs") else None
    sequences = tuple(
        GenerationRequest(
            input_ids=prompt,
            max_new_tokens=message.max_tokens,
            end_id=None if message.ignore_eos else model.eos_token_id,
            pad_id=None,
            streaming=True,  # the engine always streams to the servicer, which answers as the request asks
            exclude_input_in_output=True,
            return_log_probs=logprobs is not None,
            stop_sequences=tuple(words),
            sampling=Sampling(
                temperature=config.temperature if config.HasField("temperature") else 1.0,
                top_k=config.top_k if config.HasField("top_k") else None,
                top_p=config.top_p if config.HasField("top_p") else 1.0,
                seed=seed + index,
                repetition_penalty=config.repetition_penalty if config.HasField("repetition_penalty") else 1.0,
                presence_penalty=config.presence_penalty if config.HasField("presence_penalty") else None,
                frequency_penalty=config.frequency_penalty if config.HasField("frequency_penalty") else None,
            ),
            guided=_guided(message),
            return_generation_logits=bool(logprobs),
        )
        for index in range(max(config.num_return_sequences, 1))
    )
    return ReadRequest(sequences, frozenset(stops), message.include_stop_token_in_output, logprobs, strings)


def _guided(message: pb.GenerateRequest) -> GuidedRequest | None:
    """As the servicer reads it: only a guide with text counts (GUIDE_TYPE_JSON ignores the text)."""
    if not message.HasField("guided_decoding") or not message.guided_decoding.guide:
        return None
    kind = GUIDE_TYPES.get(message.guided_decoding.guide_type)
    if kind is None:
        name = pb.GuidedDecodingParams.GuideType.Name(message.guided_decoding.guide_type)
        raise InvalidRequest(f"guide type {name} is not offered by the reference TrtllmService")
    return GuidedRequest(kind, message.guided_decoding.guide if kind != "json" else "")
