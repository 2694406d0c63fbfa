"""The ``tensorrt_llm`` model's request contract, parsed from input tensors into one typed request.

Names, dtypes and meanings follow TensorRT-LLM's Triton backend (tensorrt_llm/config.pbtxt); scalars arrive as
``[batch]`` after the config's ``reshape``; sequences as ``[batch, length]``. One sequence per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

TensorGetter = Callable[[str], "npt.NDArray[np.generic] | None"]


class BadRequest(ValueError):
    """A request that breaks the contract; answered with a Triton error, never a crash."""


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    @property
    def greedy(self) -> bool:
        """TensorRT-LLM decodes greedily when top_k is 1, when temperature is 0, or when no sampling knob is set."""
        if self.temperature == 0.0 or self.top_k == 1:
            return True
        return self.temperature is None and not self.top_k and not self.top_p


@dataclass(frozen=True)
class GuidedRequest:
    """``guided_decoding_guide_type`` and ``guided_decoding_guide`` (TYPE_STRING, dims [1]); the guide may be empty
    (``json`` needs none)."""

    guide_type: str
    guide: str


@dataclass(frozen=True)
class GenerationRequest:
    input_ids: tuple[int, ...]
    max_new_tokens: int
    end_id: int | None
    pad_id: int | None
    streaming: bool
    exclude_input_in_output: bool
    return_log_probs: bool
    stop_sequences: tuple[tuple[int, ...], ...]
    sampling: Sampling
    token_delay_s: float = 0.0
    guided: GuidedRequest | None = None
    return_context_logits: bool = False
    return_generation_logits: bool = False


def parse_request(get: TensorGetter, parameters: dict[str, object]) -> GenerationRequest:
    """Build a request from its tensors (``get(name)`` returns the numpy array or None) and request parameters."""
    ids = get("input_ids")
    if ids is None:
        raise BadRequest("input_ids is required")
    ids = np.asarray(ids)
    if ids.ndim == 2 and ids.shape[0] != 1:
        raise BadRequest(f"send one sequence per request; got a batch of {ids.shape[0]}")
    flat = [int(x) for x in ids.reshape(-1)]
    length = _scalar_int(get, "input_lengths")
    if length is None:
        raise BadRequest("input_lengths is required")
    if length < 1 or length > len(flat):
        raise BadRequest(f"input_lengths is {length} but input_ids holds {len(flat)} ids")
    output_len = _scalar_int(get, "request_output_len")
    if output_len is None:
        raise BadRequest("request_output_len is required")
    if output_len < 1:
        raise BadRequest(f"request_output_len must be at least 1, got {output_len}")
    end_id = _scalar_int(get, "end_id")
    delay_ms = parameters.get("token_delay_ms", 0)
    if not isinstance(delay_ms, (int, float, str)):
        raise BadRequest("token_delay_ms must be a number")
    return GenerationRequest(
        input_ids=tuple(flat[:length]),
        max_new_tokens=output_len,
        end_id=end_id if end_id is not None and end_id >= 0 else None,
        pad_id=_scalar_int(get, "pad_id"),
        streaming=bool(_scalar(get, "streaming", False)),
        exclude_input_in_output=bool(_scalar(get, "exclude_input_in_output", False)),
        return_log_probs=bool(_scalar(get, "return_log_probs", False)),
        stop_sequences=parse_word_list(get("stop_words_list")),
        sampling=Sampling(
            temperature=_scalar_float(get, "temperature"),
            top_k=_scalar_int(get, "runtime_top_k"),
            top_p=_scalar_float(get, "runtime_top_p"),
            seed=_scalar_int(get, "seed") or 0,
            repetition_penalty=_scalar_float(get, "repetition_penalty"),
            presence_penalty=_scalar_float(get, "presence_penalty"),
            frequency_penalty=_scalar_float(get, "frequency_penalty"),
        ),
        token_delay_s=max(float(delay_ms), 0.0) / 1000.0,
        guided=_guided(get),
        return_context_logits=bool(_scalar(get, "return_context_logits", False)),
        return_generation_logits=bool(_scalar(get, "return_generation_logits", False)),
    )


def _guided(get: TensorGetter) -> GuidedRequest | None:
    """The guide, when ``guided_decoding_guide_type`` is set and not empty (as TensorRT-LLM reads it)."""
    guide_type = _scalar_text(get, "guided_decoding_guide_type")
    if not guide_type:
        return None
    return GuidedRequest(guide_type, _scalar_text(get, "guided_decoding_guide") or "")


def _scalar_text(get: TensorGetter, name: str) -> str | None:
    array = get(name)
    if array is None:
        return None
    values = np.asarray(array).reshape(-1)
    if values.size != 1:
        raise BadRequest(f"{name} must hold one value, got {values.size}")
    value = values[0]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequest(f"{name} is not UTF-8 text") from error
    return str(value)


def parse_word_list(array: npt.NDArray[np.generic] | None) -> tuple[tuple[int, ...], ...]:
    """Decode TensorRT-LLM's ``[2, N]`` word list: flat ids, then cumulative end offsets padded with -1."""
    if array is None:
        return ()
    data = np.asarray(array)
    if data.ndim == 3:
        data = data[0]
    if data.ndim != 2 or data.shape[0] != 2:
        raise BadRequest(f"stop_words_list must have shape [2, N], got {list(data.shape)}")
    ids, offsets = [int(x) for x in data[0]], [int(x) for x in data[1]]
    words, start = [], 0
    for end in offsets:
        if end < 0:
            break
        if end <= start or end > len(ids):
            raise BadRequest(f"stop_words_list offsets are not increasing within {len(ids)} ids")
        words.append(tuple(ids[start:end]))
        start = end
    return tuple(words)


def _scalar(get: TensorGetter, name: str, default: object = None) -> object:
    array = get(name)
    if array is None:
        return default
    values = np.asarray(array).reshape(-1)
    if values.size != 1:
        raise BadRequest(f"{name} must hold one value, got {values.size}")
    return values[0].item()


def _scalar_int(get: TensorGetter, name: str) -> int | None:
    value = _scalar(get, name)
    return None if value is None else int(value)  # type: ignore[call-overload]


def _scalar_float(get: TensorGetter, name: str) -> float | None:
    value = _scalar(get, name)
    return None if value is None else float(value)  # type: ignore[arg-type]
