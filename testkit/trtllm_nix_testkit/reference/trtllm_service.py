"""The reference ``TrtllmService``: the reference engine (scripted or hf generator) behind the RPCs and fields of
TensorRT-LLM's servicer (``tensorrt_llm/grpc/smg/servicer.py``, ``trtllm_service_facts.json``), for tests, the demo
and SMG.

Answers as the real one does: streamed chunks of delta ids per sequence, then one ``GenerateComplete`` per sequence
(only those when ``streaming`` is off); ``Abort`` by request id (success false for an id not in flight); errors as
gRPC status (``INVALID_ARGUMENT`` for a bad request, ``INTERNAL`` else); ``HealthCheck`` always OK with the status
text; ``Embed``, ``GetTokenizer`` and ``SubscribeKvEvents`` UNIMPLEMENTED. Every ``Abort`` call and every stream the
client cancelled is recorded (``aborts``, ``stream_cancels``) so tests can tell the two apart.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
from smg_grpc_proto import trtllm_service_pb2 as pb
from smg_grpc_proto import trtllm_service_pb2_grpc as pb_grpc
from trtllm_nix import __version__
from trtllm_nix.llm.scoring import generated_alternatives

from trtllm_nix_testkit.reference.engine import InflightEngine
from trtllm_nix_testkit.reference.trtllm_request import InvalidRequest, ReadRequest, ServedModel, read_request

NO_OPINION = -9999.0  # the scripted generator has no logits: alternatives it never considered (vLLM's -inf)


@dataclass(frozen=True)
class _Tokens:
    index: int
    tokens: list[int]
    logprobs: list[float]
    final: bool
    logits: Any = None  # generation logits [1, 1, 1, vocab] of the last token, where the generator has them


@dataclass(frozen=True)
class _Failed:
    index: int
    message: str


class _Sink:
    """One sequence's engine responses, handed from the engine thread to the request's event loop."""

    def __init__(self, index: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[_Tokens | _Failed]) -> None:
        self._index, self._loop, self._queue = index, loop, queue
        self.cancelled = threading.Event()

    def _put(self, item: _Tokens | _Failed) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def send(
        self,
        tokens: list[int],
        logprobs: list[float],
        sequence_length: int,
        final: bool,
        extras: dict[str, Any] | None = None,
    ) -> None:
        self._put(_Tokens(self._index, list(tokens), list(logprobs), final, (extras or {}).get("generation_logits")))

    def finish(self) -> None:
        self._put(_Tokens(self._index, [], [], True))

    def fail(self, message: str) -> None:
        self._put(_Failed(self._index, message))


@dataclass
class _Sequence:
    output: list[int] = field(default_factory=list)
    logprobs: list[pb.TokenLogprob] = field(default_factory=list)
    done: bool = False
    matched_str: str | None = None  # the stop string that ended it


class ReferenceTrtllmServicer(pb_grpc.TrtllmServiceServicer):  # type: ignore[misc]
    def __init__(
        self, engine: InflightEngine, model: ServedModel, model_id: str, parallel: tuple[int, int] = (1, 1)
    ) -> None:
        self._engine = engine
        self._parallel = parallel  # tensor, pipeline: what trtllm-serve was started with (GetServerInfo)
        self._model = model
        self._model_id = model_id
        self._in_flight: dict[str, list[_Sink]] = {}
        self.aborts: list[str] = []  # request ids of every Abort call, in order
        self.stream_cancels: list[str] = []  # request ids whose stream the client cancelled
        self.health = "OK"  # tests set another text to play an unhealthy executor

    async def Generate(
        self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.GenerateResponse]:
        try:
            read = read_request(request, self._model)
        except InvalidRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Tokens | _Failed] = asyncio.Queue()
        sinks = [_Sink(index, loop, queue) for index in range(len(read.sequences))]
        self._in_flight[request.request_id] = sinks
        try:
            for sequence, sink in zip(read.sequences, sinks, strict=True):
                self._engine.submit(sequence, sink)
            async for response in self._answer(request, read, queue, len(sinks)):
                yield response
        except asyncio.CancelledError:
            self.stream_cancels.append(request.request_id)
            self._cancel(request.request_id)
            raise
        finally:
            self._in_flight.pop(request.request_id, None)

    async def _answer(
        self,
        request: pb.GenerateRequest,
        read: ReadRequest,
        queue: asyncio.Queue[_Tokens | _Failed],
        count: int,
    ) -> AsyncIterator[pb.GenerateResponse]:
        sequences = [_Sequence() for _ in range(count)]
        prompt = len(request.tokenized.input_token_ids)
        while not all(sequence.done for sequence in sequences):
            item = await queue.get()
            if isinstance(item, _Failed):
                self._cancel(request.request_id)
                raise RuntimeError(item.message)  # grpc answers INTERNAL with the text, as the servicer does
            if request.request_id not in self._in_flight:
                return  # aborted: the real servicer's stream ends without a GenerateComplete
            sequence = sequences[item.index]
            tokens, matched = item.tokens, None
            if item.final and tokens and tokens[-1] in read.stop_token_ids:
                matched = tokens[-1]
                tokens = tokens if read.include_stop_token else tokens[:-1]
            elif item.final and tokens:
                found = read.stop_string_at_end(sequence.output + tokens)
                if found is not None:
                    sequence.matched_str = found[0]
                    if not read.include_stop_token:  # out of the complete's ids (streamed chunks stay sent)
                        kept = (sequence.output + tokens)[: -found[1]]
                        tokens, sequence.output = kept[len(sequence.output) :], kept[: len(sequence.output)]
                        sequence.logprobs = sequence.logprobs[: len(sequence.output)]
            entries = self._logprobs(read, tokens, item)
            sequence.output += tokens
            sequence.logprobs += entries
            if tokens and request.streaming:
                chunk = pb.GenerateStreamChunk(
                    token_ids=tokens,
                    sequence_index=item.index,
                    prompt_tokens=prompt,
                    completion_tokens=len(sequence.output),
                    cached_tokens=0,
                    logprobs=entries,
                )
                yield pb.GenerateResponse(request_id=request.request_id, chunk=chunk)
            if item.final:
                sequence.done = True
                yield pb.GenerateResponse(
                    request_id=request.request_id,
                    complete=self._complete(read, request, item.index, sequence, matched),
                )

    def _complete(
        self, read: ReadRequest, request: pb.GenerateRequest, index: int, sequence: _Sequence, matched: int | None
    ) -> pb.GenerateComplete:
        complete = pb.GenerateComplete(
            output_token_ids=sequence.output,
            sequence_index=index,
            prompt_tokens=len(request.tokenized.input_token_ids),
            completion_tokens=len(sequence.output),
            cached_tokens=0,
            logprobs=sequence.logprobs,
        )
        if matched is not None:
            complete.finish_reason, complete.matched_token_id = "stop", matched
        elif sequence.matched_str is not None:
            complete.finish_reason, complete.matched_stop_str = "stop", sequence.matched_str
        elif len(sequence.output) >= request.max_tokens:
            complete.finish_reason = "length"
        else:  # the end id ended it (the engine keeps it out of the output, as TensorRT-LLM does)
            complete.finish_reason, complete.matched_token_id = "stop", self._model.eos_token_id
        return complete

    @staticmethod
    def _logprobs(read: ReadRequest, tokens: list[int], item: _Tokens) -> list[pb.TokenLogprob]:
        """One entry per token when asked: the chosen token's logprob and ``logprobs`` alternatives (from the
        generator's logits where it has them; the scripted one has none, so the chosen token and ids it never
        considered at ``NO_OPINION``)."""
        if read.logprobs is None:
            return []
        k = read.logprobs
        entries = []
        for position, token in enumerate(tokens):
            logprob = item.logprobs[position] if position < len(item.logprobs) else 0.0
            if item.logits is not None and k > 0 and position == len(tokens) - 1:
                rows = np.asarray(item.logits, dtype=np.float32).reshape(1, -1)
                alternatives = [(alt.token_id, alt.logprob) for alt in generated_alternatives(rows, k)[0]]
            else:
                others = (candidate for candidate in range(k + 1) if candidate != token)
                alternatives = [(token, logprob), *[(other, NO_OPINION) for other in others][: max(k - 1, 0)]]
            entry = pb.TokenLogprob(token_id=token, logprob=logprob)
            entry.top_logprobs.extend(pb.TopLogprob(token_id=t, logprob=v) for t, v in alternatives[:k])
            entries.append(entry)
        return entries

    def _cancel(self, request_id: str) -> bool:
        sinks = self._in_flight.pop(request_id, None)
        for sink in sinks or []:
            sink.cancelled.set()
        return sinks is not None

    async def Abort(self, request: pb.AbortRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.AbortResponse:
        self.aborts.append(request.request_id)
        found = self._cancel(request.request_id)
        return pb.AbortResponse(
            success=found, message=f"Request {request.request_id} {'aborted' if found else 'not found'}"
        )

    async def HealthCheck(
        self, request: pb.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.HealthCheckResponse:
        return pb.HealthCheckResponse(status=self.health)

    async def GetModelInfo(
        self, request: pb.GetModelInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetModelInfoResponse:
        return pb.GetModelInfoResponse(
            model_id=self._model_id,
            max_input_len=self._model.max_seq_len,
            max_seq_len=self._model.max_seq_len,
            vocab_size=self._model.tokenizer.get_vocab_size(with_added_tokens=True),
        )

    async def GetServerInfo(
        self, request: pb.GetServerInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetServerInfoResponse:
        return pb.GetServerInfoResponse(
            version=f"trtllm-nix-reference {__version__}",
            backend="tensorrt-llm",
            tensor_parallel_size=self._parallel[0],
            pipeline_parallel_size=self._parallel[1],
            context_parallel_size=1,
            world_size=self._parallel[0] * self._parallel[1],
        )
