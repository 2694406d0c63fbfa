"""In-flight batching loop of the reference backend: every active request advances one token per pass.

The loop owns all generation state in one thread. Requests join between passes; each pass checks every request
for cancellation before it generates, so a cancelled request stops within one step. Nothing one request does
(a generator that raises, a response sender that cannot send) escapes the loop: that request fails alone, and the
others go on (a dead loop would leave every later request of the server waiting for ever).
"""

from __future__ import annotations

import dataclasses
import itertools
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from trtllm_nix_testkit.reference.contract import GenerationRequest
from trtllm_nix_testkit.reference.generators import Generator
from trtllm_nix_testkit.reference.stats import StatsFile


class ResponseSink(Protocol):
    """Where one request's responses go (a Triton response sender in production)."""

    def is_cancelled(self) -> bool: ...

    def send(
        self,
        tokens: list[int],
        logprobs: list[float],
        sequence_length: int,
        final: bool,
        extras: dict[str, Any] | None = None,
    ) -> None: ...

    def finish(self) -> None: ...

    def fail(self, message: str) -> None: ...


@dataclass
class _Active:
    request: GenerationRequest
    sink: ResponseSink
    state: object
    due: float
    output: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    counted: bool = False  # its end (finished, cancelled, failed) is in the stats


class InflightEngine:
    def __init__(self, generator: Generator, stats: StatsFile) -> None:
        self._generator = generator
        self._stats = stats
        self._incoming: queue.SimpleQueue[tuple[GenerationRequest, ResponseSink] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="reference-engine", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest, sink: ResponseSink) -> None:
        self._incoming.put((request, sink))

    def shutdown(self, timeout: float = 5.0) -> None:
        self._incoming.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        active: list[_Active] = []
        while True:
            if not self._admit(active, timeout=self._wait(active)):
                for item in active:
                    self._stats.record("failed")
                    _fail_alone(item.sink, "the server is shutting down")
                return
            now = time.monotonic()
            for item in list(active):
                if item.due > now:
                    continue
                if not self._advance(item):
                    active.remove(item)

    @staticmethod
    def _wait(active: list[_Active]) -> float | None:
        if not active:
            return None
        return max(0.0, min(item.due for item in active) - time.monotonic())

    def _admit(self, active: list[_Active], timeout: float | None) -> bool:
        """Move new requests into ``active``, waiting up to ``timeout`` (None: until one comes); False on shutdown."""
        try:
            first = self._incoming.get(block=timeout != 0.0, timeout=timeout)
        except queue.Empty:
            return True
        for item in itertools.chain([first], _drain(self._incoming)):
            if item is None:
                return False
            request, sink = item
            self._stats.record("started", request=_describe(request))
            try:
                state = self._generator.start(request)
                scripted_delay = self._generator.delay_s(request.input_ids)
            except Exception as error:  # a broken request must not stop the loop
                self._stats.record("failed")
                _fail_alone(sink, f"could not start generation: {error}")
                continue
            if scripted_delay is not None and not request.token_delay_s:
                request = dataclasses.replace(request, token_delay_s=scripted_delay)
            active.append(_Active(request, sink, state, due=time.monotonic() + request.token_delay_s))
        return True

    def _advance(self, item: _Active) -> bool:
        """Generate one token for ``item``; False when it is done (finished, cancelled or failed)."""
        request = item.request
        try:
            if item.sink.is_cancelled():
                item.counted = True
                self._stats.record("cancelled", len(item.output))
                item.sink.finish()
                return False
            step = self._generator.step(item.state)
            extras = _logits(request, step)
            if request.end_id is not None and step.token == request.end_id:
                extras.pop("generation_logits", None)
                self._complete(item, new=[], new_logprobs=[], extras=extras)
                return False
            item.output.append(step.token)
            item.logprobs.append(step.logprob)
            done = len(item.output) >= request.max_new_tokens or _ends_with_stop(item.output, request)
            if done:
                self._complete(item, new=[step.token], new_logprobs=[step.logprob], extras=extras)
                return False
            if request.streaming:
                item.sink.send([step.token], [step.logprob], 1, final=False, extras=extras)
            item.due = time.monotonic() + request.token_delay_s
            return True
        except Exception as error:
            if not item.counted:
                self._stats.record("failed", len(item.output))
            _fail_alone(item.sink, f"generation failed: {type(error).__name__}: {error}")
            return False

    def _complete(
        self, item: _Active, new: list[int], new_logprobs: list[float], extras: dict[str, Any] | None = None
    ) -> None:
        """Count the request as finished, then send its last response (a client that sees the end sees the count)."""
        request = item.request
        item.counted = True
        self._stats.record("finished", len(item.output))
        if request.streaming:
            if new or extras:
                item.sink.send(new, new_logprobs, len(new), final=True, extras=extras)
            else:
                item.sink.finish()
        else:
            prefix = [] if request.exclude_input_in_output else list(request.input_ids)
            tokens = prefix + item.output
            item.sink.send(tokens, [0.0] * len(prefix) + item.logprobs, len(tokens), final=True)


def _fail_alone(sink: ResponseSink, message: str) -> None:
    """Fail one request; a sender that cannot even do that is logged (tritonserver's log has the stub's stderr)."""
    try:
        sink.fail(message)
    except Exception as error:
        print(f"trtllm-nix reference backend: a request was dropped ({message}): {error}", file=sys.stderr, flush=True)


def _logits(request: GenerationRequest, step: Any) -> dict[str, Any]:
    """The logits tensors of one response, shaped as TensorRT-LLM's: context ``[1, prompt, vocab]`` on the first
    step, generation ``[1, 1, 1, vocab]`` (batch, beam, tokens, vocab)."""
    extras: dict[str, Any] = {}
    if request.return_context_logits and step.context_logits is not None:
        extras["context_logits"] = np.asarray(step.context_logits, dtype=np.float32)[None]
    if request.return_generation_logits and step.logits is not None:
        extras["generation_logits"] = np.asarray(step.logits, dtype=np.float32).reshape(1, 1, 1, -1)
    return extras


def _ends_with_stop(output: list[int], request: GenerationRequest) -> bool:
    return any(len(output) >= len(word) and tuple(output[-len(word) :]) == word for word in request.stop_sequences)


def _drain(
    incoming: queue.SimpleQueue[tuple[GenerationRequest, ResponseSink] | None],
) -> list[tuple[GenerationRequest, ResponseSink] | None]:
    items = []
    while True:
        try:
            items.append(incoming.get_nowait())
        except queue.Empty:
            return items


def _describe(request: GenerationRequest) -> dict[str, object]:
    return {
        "prompt_tokens": len(request.input_ids),
        "max_new_tokens": request.max_new_tokens,
        "end_id": request.end_id,
        "stop_sequences": [list(word) for word in request.stop_sequences],
        "streaming": request.streaming,
        "return_log_probs": request.return_log_probs,
        **dataclasses.asdict(request.sampling),
    }
