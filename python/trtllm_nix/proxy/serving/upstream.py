"""The upstream requests of one prepared request: its sampling mapped onto the backend's request (``llm.sampling``),
one per choice (a seed each), with what the answer needs returned (logprobs, alternatives, the prompt's scores);
a value the backend cannot take is a 400."""

from __future__ import annotations

import random
from dataclasses import replace

from trtllm_nix.llm.sampling import ContextTooLong, Sampling, upstream_request
from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.served import ServedModel


class PromptTooLong(APIError):
    """A prompt that leaves no room for one answer token (a 400 ``context_length_exceeded``), with the sizes an API
    may word itself (the Messages API's ``prompt is too long: N tokens > M maximum``)."""

    def __init__(self, error: ContextTooLong) -> None:
        super().__init__(400, str(error), param=error.param, code="context_length_exceeded")
        self.prompt_tokens = error.prompt_tokens
        self.context_length = error.context_length


def choice_seeds(seed: int | None, n: int) -> list[int | None]:
    """One seed per choice: the client's for the first and counting up from it for the others, else random ones
    (the backends default every request to seed 0, so n samples would all be the same)."""
    if n == 1:
        return [seed]
    if seed is None:
        return [random.getrandbits(63) for _ in range(n)]
    return [(seed + j) % 2**64 for j in range(n)]


def to_upstream(
    model: ServedModel,
    prompt_ids: list[int],
    sampling: Sampling,
    prompt_param: str,
    request_id: str,
    max_tokens_param: str = "max_tokens",
) -> UpstreamRequest:
    try:
        return upstream_request(model.files, model.context_length, prompt_ids, sampling, prompt_param, request_id)
    except ContextTooLong as error:
        if error.param == prompt_param:
            raise PromptTooLong(error) from error
        param = max_tokens_param if error.param == "max_tokens" else error.param
        raise APIError(400, str(error), param=param, code="context_length_exceeded") from error
    except ValueError as error:  # a value out of the range of its tensor
        raise bad_request(str(error), code="invalid_value") from error


def choice_requests(
    model: ServedModel,
    prompt_ids: list[int],
    sampling: Sampling,
    n: int,
    prompt_param: str,
    request_id: str,
    max_tokens_param: str = "max_tokens",
    top_logprobs: int = 0,
    *,
    score_prompt: bool = False,
) -> list[UpstreamRequest]:
    """One request per choice; ``top_logprobs`` alternatives per token, ``score_prompt``: the prompt's logprobs
    (echo, with the end token that finished the answer kept, as lm-eval slices it)."""
    return [
        replace(
            to_upstream(model, prompt_ids, replace(sampling, seed=seed), prompt_param, request_id, max_tokens_param),
            return_generation_logits=top_logprobs > 0,
            top_logprobs=top_logprobs,
            return_context_logits=score_prompt,
            keep_end_token=score_prompt,
        )
        for seed in choice_seeds(sampling.seed, n)
    ]
