"""Token generators behind the reference backend: ``scripted`` (protocol tests) and ``hf`` (a real causal LM)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from trtllm_nix_testkit.reference.contract import GenerationRequest, Sampling
from trtllm_nix_testkit.reference.guided import GrammarEngine, Guide, start_guide

if TYPE_CHECKING:
    import torch

REPLY_MARKER = "#reply:"
MESSAGE_END = "<|im_end|>"
TOOL_RESPONSE_END = "\n</tool_response>"
DEFAULT_SCRIPT = "This is the scripted reference backend of trtllm-nix."
FALLBACK_EOS = 151645


@dataclass
class Step:
    token: int
    logprob: float
    logits: Any = None  # the raw logits the token was chosen from (float32 numpy [vocab]), where known
    context_logits: Any = None  # on a request's first step: the prompt's logits (float32 numpy [prompt, vocab])


class Generator(Protocol):
    def start(self, request: GenerationRequest) -> object: ...

    def delay_s(self, prompt_ids: tuple[int, ...]) -> float | None: ...

    def step(self, state: object) -> Step: ...


@dataclass
class _ScriptState:
    script: list[int]
    eos: int | None  # None: no end id (ignore_eos): the script repeats, like a model that keeps talking
    position: int = 0
    fail_after: int | None = None
    guide: Guide | None = None
    context_logits: Any = None  # sent with the first step, then dropped


class ScriptedFailure(RuntimeError):
    """The failure a prompt asked for with ``#fail_after:N`` (tests of mid-stream errors)."""


def _directive(text: str, name: str) -> int | None:
    """The number after the last ``#name:`` in ``text`` (e.g. ``#delay_ms:20``), if any."""
    at = text.rfind(f"#{name}:")
    if at < 0:
        return None
    digits = re.match(r"\d+", text[at + len(name) + 2 :])
    return int(digits.group()) if digits else None


class ScriptedGenerator:
    """Replays the text after the last ``#reply:`` marker in the prompt, up to the end of that message (or of the
    tool response it sits in).

    The prompt is decoded with the real tokenizer, the reply is re-encoded with it, so multi-byte characters,
    ``<think>`` and ``<tool_call>`` tags come out as the real model's tokens would. One leading space after the
    marker is dropped. After the script the model "emits" ``end_id``, as a chat model would; without an end id it
    starts the script again (benchmarks with ignore_eos get full-length answers).
    Directives in the prompt: ``#delay_ms:N`` waits N ms per token, ``#fail_after:N`` fails after N tokens.
    With guided decoding the script is followed while the grammar allows its next token; from the first token it
    does not allow, the script is dropped and :meth:`Guide.fallback` picks each token (see there), so the output
    always matches the grammar and ends.
    """

    def __init__(self, tokenizer_dir: Path, grammar: GrammarEngine | None = None) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        self._grammar = grammar

    def prompt_text(self, prompt_ids: tuple[int, ...]) -> str:
        return str(self._tokenizer.decode(list(prompt_ids), skip_special_tokens=False))

    def delay_s(self, prompt_ids: tuple[int, ...]) -> float | None:
        delay = _directive(self.prompt_text(prompt_ids), "delay_ms")
        return None if delay is None else delay / 1000.0

    def script_for(self, prompt_ids: tuple[int, ...]) -> list[int]:
        text = self.prompt_text(prompt_ids)
        marker = text.rfind(REPLY_MARKER)
        if marker < 0:
            reply = DEFAULT_SCRIPT
        else:
            reply = text[marker + len(REPLY_MARKER) :]
            ends = [at for at in (reply.find(MESSAGE_END), reply.find(TOOL_RESPONSE_END)) if at >= 0]
            reply = reply[: min(ends)] if ends else reply
            reply = reply[1:] if reply.startswith(" ") else reply
        return list(self._tokenizer.encode(reply, add_special_tokens=False).ids)

    def start(self, request: GenerationRequest) -> object:
        eos = request.end_id
        fail_after = _directive(self.prompt_text(request.input_ids), "fail_after")
        guide = start_guide(self._grammar, request.guided)
        state = _ScriptState(self.script_for(request.input_ids), eos=eos, fail_after=fail_after, guide=guide)
        if request.return_context_logits:  # the repository says it gathers them: keep that promise
            state.context_logits = self.context_logits(len(request.input_ids))
        return state

    def context_logits(self, prompt_tokens: int) -> Any:
        """The prompt's logits of a model with no opinion: every token equally likely (float32 zeros [prompt,
        vocabulary]); what the scripted stand-in can say, in the shape the engine gives."""
        import numpy as np

        return np.zeros((prompt_tokens, self._tokenizer.get_vocab_size(with_added_tokens=True)), dtype=np.float32)

    def step(self, state: object) -> Step:
        assert isinstance(state, _ScriptState)
        context, state.context_logits = state.context_logits, None
        return replace(self._step(state), context_logits=context)

    def _step(self, state: _ScriptState) -> Step:
        if state.fail_after is not None and state.position >= state.fail_after:
            raise ScriptedFailure(f"scripted failure after {state.fail_after} tokens")
        if state.guide is not None and not state.guide.terminated:
            return Step(self._guided_step(state, state.guide), 0.0)
        if state.position < len(state.script):
            token = state.script[state.position]
            state.position += 1
            return Step(token, 0.0)
        if state.eos is None and state.script:
            state.position = 1
            return Step(state.script[0], 0.0)
        return Step(state.eos if state.eos is not None else FALLBACK_EOS, 0.0)

    @staticmethod
    def _guided_step(state: _ScriptState, guide: Guide) -> int:
        wanted = state.script[state.position] if state.position < len(state.script) else None
        token = guide.fallback(wanted)
        if token == wanted:
            state.position += 1
        else:
            state.position = len(state.script)  # off script for good
        guide.accept(token)
        return token


@dataclass
class _HfState:
    request: GenerationRequest
    generator: Any
    past: Any = None
    pending: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    generated: Counter[int] = field(default_factory=Counter)
    guide: Guide | None = None


class HfGenerator:
    """A Hugging Face causal LM run with PyTorch, one request at a time per step, with a KV cache each.

    Greedy when the request asks for it (see :class:`Sampling`), else seeded sampling with temperature, top-k,
    top-p, and repetition / presence / frequency penalties as TensorRT-LLM defines them. With guided decoding the
    grammar's mask is applied to the logits before the penalties and sampling (a masked token stays at -inf).
    """

    def __init__(self, model_dir: Path, device: str | None = None, grammar: GrammarEngine | None = None) -> None:
        import torch

        from trtllm_nix_testkit.reference.checkpoint import load_causal_lm

        self._torch = torch
        self._grammar = grammar
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = load_causal_lm(model_dir, self.device)

    def delay_s(self, prompt_ids: tuple[int, ...]) -> float | None:
        return None

    def start(self, request: GenerationRequest) -> object:
        generator = self._torch.Generator(device=self.device)
        generator.manual_seed(request.sampling.seed)
        guide = start_guide(self._grammar, request.guided)
        ids = list(request.input_ids)
        return _HfState(request, generator, pending=ids, seen=list(ids), guide=guide)

    def step(self, state: object) -> Step:
        assert isinstance(state, _HfState)
        torch = self._torch
        with torch.inference_mode():
            ids = torch.tensor([state.pending], dtype=torch.long, device=self.device)
            output = self._model(input_ids=ids, past_key_values=state.past, use_cache=True)
            first = state.past is None
            state.past = output.past_key_values
            logits = output.logits[0, -1].float()
            context = output.logits[0].float().cpu().numpy() if first and state.request.return_context_logits else None
            raw = logits.cpu().numpy() if state.request.return_generation_logits else None
            guide = state.guide if state.guide is not None and not state.guide.terminated else None
            if guide is not None:
                logits = guide.mask_logits(logits)
            token, logprob = self._choose(logits, state)
            if guide is not None:
                guide.accept(token)
        state.pending = [token]
        state.seen.append(token)
        state.generated[token] += 1
        return Step(token, logprob, logits=raw, context_logits=context)

    def _choose(self, logits: torch.Tensor, state: _HfState) -> tuple[int, float]:
        torch = self._torch
        sampling: Sampling = state.request.sampling
        logits = self._penalize(logits, state, sampling)
        if sampling.greedy:
            token = int(torch.argmax(logits).item())
            return token, float(torch.log_softmax(logits, dim=-1)[token].item())
        temperature = sampling.temperature if sampling.temperature is not None else 1.0
        scaled = logits / temperature
        logprobs = torch.log_softmax(scaled, dim=-1)
        filtered = scaled.clone()
        if sampling.top_k and sampling.top_k > 0:
            kth = torch.topk(filtered, min(sampling.top_k, filtered.numel())).values[-1]
            filtered[filtered < kth] = -math.inf
        if sampling.top_p and 0.0 < sampling.top_p < 1.0:
            ordered, order = torch.sort(filtered, descending=True)
            cumulative = torch.cumsum(torch.softmax(ordered, dim=-1), dim=-1)
            drop = cumulative - torch.softmax(ordered, dim=-1) > sampling.top_p
            filtered[order[drop]] = -math.inf
        probabilities = torch.softmax(filtered, dim=-1)
        token = int(torch.multinomial(probabilities, 1, generator=state.generator).item())
        return token, float(logprobs[token].item())

    def _penalize(self, logits: torch.Tensor, state: _HfState, sampling: Sampling) -> torch.Tensor:
        torch = self._torch
        if sampling.repetition_penalty and sampling.repetition_penalty != 1.0:
            index = torch.tensor(sorted(set(state.seen)), dtype=torch.long, device=logits.device)
            chosen = logits[index]
            penalty = sampling.repetition_penalty
            logits = logits.clone()
            logits[index] = torch.where(chosen < 0, chosen * penalty, chosen / penalty)
        if state.generated and (sampling.presence_penalty or sampling.frequency_penalty):
            index = torch.tensor(list(state.generated), dtype=torch.long, device=logits.device)
            counts = torch.tensor(list(state.generated.values()), dtype=logits.dtype, device=logits.device)
            logits = logits.clone()
            logits[index] -= (sampling.presence_penalty or 0.0) + (sampling.frequency_penalty or 0.0) * counts
        return logits
