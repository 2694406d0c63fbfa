"""One mapping from sampling fields (OpenAI's, or the ensemble's) to the ``tensorrt_llm`` request: defaults from
the model's generation_config.json, temperature 0 as greedy, the room left in the context, stop token ids."""

from __future__ import annotations

from dataclasses import dataclass

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.upstream_types import UpstreamRequest


class ContextTooLong(ValueError):
    """The prompt (or the prompt plus max_tokens) does not fit the engine's context. ``param`` names the field;
    ``prompt_tokens`` and ``context_length``: the sizes compared."""

    def __init__(self, message: str, param: str, prompt_tokens: int, context_length: int) -> None:
        super().__init__(message)
        self.param = param
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length


@dataclass(frozen=True)
class Sampling:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    ignore_eos: bool = False
    logprobs: bool = False
    guided: GuidedDecoding | None = None


def upstream_request(
    files: ModelFiles,
    context_length: int,
    prompt_ids: list[int],
    sampling: Sampling,
    prompt_param: str = "messages",
    request_id: str = "",
) -> UpstreamRequest:
    room = context_length - len(prompt_ids)
    if room < 1:
        raise ContextTooLong(
            f"the prompt has {len(prompt_ids)} tokens, which leaves no room in the {context_length}-token context",
            prompt_param,
            len(prompt_ids),
            context_length,
        )
    if sampling.max_tokens is not None and sampling.max_tokens > room:
        raise ContextTooLong(
            f"max_tokens is {sampling.max_tokens} but the {len(prompt_ids)}-token prompt leaves room for {room} "
            f"in the {context_length}-token context",
            "max_tokens",
            len(prompt_ids),
            context_length,
        )
    defaults = files.sampling
    temperature = sampling.temperature if sampling.temperature is not None else defaults.temperature
    top_p = sampling.top_p if sampling.top_p is not None else defaults.top_p
    top_k = sampling.top_k if sampling.top_k is not None else defaults.top_k
    if top_k is not None and top_k < 1:
        top_k = 0  # -1 and 0 both mean "no top-k"
    if temperature == 0.0:  # greedy, exactly: TensorRT-LLM's way to say it is top_k = 1
        temperature, top_p, top_k = None, None, 1
    repetition = sampling.repetition_penalty if sampling.repetition_penalty is not None else defaults.repetition_penalty
    return UpstreamRequest(
        input_ids=prompt_ids,
        max_new_tokens=sampling.max_tokens or room,
        end_id=-1 if sampling.ignore_eos else files.eos_token_id,
        pad_id=files.pad_token_id,
        stop_token_sequences=[]
        if sampling.ignore_eos
        else [[t] for t in files.end_token_ids if t != files.eos_token_id],
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=sampling.seed,
        repetition_penalty=repetition,
        presence_penalty=sampling.presence_penalty,
        frequency_penalty=sampling.frequency_penalty,
        return_log_probs=sampling.logprobs,
        request_id=request_id,
        guided=sampling.guided,
    )
