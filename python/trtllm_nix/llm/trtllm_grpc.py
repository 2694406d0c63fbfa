"""Token ids to and from TensorRT-LLM's ``TrtllmService`` (``trtllm-serve MODEL --grpc``, the PyTorch backend):
one server-streaming ``Generate`` per request on a shared channel, ``Abort`` by request id when the proxy stops
reading early, readiness from ``HealthCheck``.

The request is the proxy's ``UpstreamRequest`` (the same one the Triton lane sends), mapped onto the fields the
servicer reads (``trtllm_service_facts.json``): no end id on the wire (TensorRT-LLM resolves its own), so the
model's other end ids go as ``stop_token_ids`` and ``ignore_eos`` replaces ``end_id = -1``; a request with no
sampling knob is sent as greedy (``top_k`` 1), because the servicer fills in temperature 1.0 and top_p 1.0 where the
Triton backend decodes greedily. Stop strings stay with the proxy (``llm.generation`` matches text exactly, then
closes the stream: that is an ``Abort``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator

import grpc
from smg_grpc_proto import trtllm_service_pb2 as pb
from smg_grpc_proto import trtllm_service_pb2_grpc as pb_grpc

from trtllm_nix.llm.events import FinishReason, GuideType, TopLogprob
from trtllm_nix.llm.triton_client import channel_options, rpc_failure
from trtllm_nix.llm.upstream_types import UpstreamChunk, UpstreamError, UpstreamRequest

LOG = logging.getLogger("trtllm_nix.llm.trtllm_grpc")

GUIDE_TYPES: dict[GuideType, int] = {
    "json": pb.GuidedDecodingParams.GUIDE_TYPE_JSON,
    "json_schema": pb.GuidedDecodingParams.GUIDE_TYPE_JSON_SCHEMA,
    "regex": pb.GuidedDecodingParams.GUIDE_TYPE_REGEX,
    "ebnf_grammar": pb.GuidedDecodingParams.GUIDE_TYPE_EBNF_GRAMMAR,
}
# The servicer reads a guide only when its text is not empty, even for GUIDE_TYPE_JSON, which ignores the text.
ANY_JSON_GUIDE = "{}"
# TensorRT-LLM's finish reasons as the servicer passes them on; "stop_word" is the proto's name for a stop string
FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "stop_word": "stop", "length": "length"}
HEALTHY = "OK"  # HealthCheck's status when the executor is healthy; anything else is the reason it is not
ABORT_TIMEOUT_S = 5.0
# UpstreamRequest's sampling knobs, sent under the same names in SamplingConfig when set
KNOBS = ("temperature", "top_p", "top_k", "seed", "repetition_penalty", "presence_penalty", "frequency_penalty")


class TrtllmGrpcUpstream:
    """Owns one gRPC channel to a ``TrtllmService``; safe to share across concurrent requests."""

    def __init__(self, target: str, timeout: float | None = None) -> None:
        self.target = target
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(target, options=channel_options())
        self._stub = pb_grpc.TrtllmServiceStub(self._channel)
        self._aborts: set[asyncio.Task[None]] = set()
        self._health = HEALTHY  # the last status HealthCheck gave: a change is logged once, not every check

    @property
    def url(self) -> str:
        return f"grpc-trtllm://{self.target}"

    async def close(self) -> None:
        if self._aborts:
            await asyncio.gather(*self._aborts, return_exceptions=True)
        await self._channel.close()

    async def ready(self, timeout: float = 2.0) -> bool:
        """True when ``HealthCheck`` answers ``OK`` (the servicer answers every check with gRPC OK and says in the
        status text whether its executor is healthy)."""
        try:
            answer = await self._stub.HealthCheck(pb.HealthCheckRequest(), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        status = str(answer.status)
        if status != self._health:
            LOG.warning("TrtllmService at %s: HealthCheck says %r (was %r)", self.target, status, self._health)
            self._health = status
        return status == HEALTHY

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        """Stream the generated token ids; closing the iterator early aborts the request (``Abort``, then the
        stream is cancelled)."""
        request_id = f"{request.request_id or 'trtllm-nix'}-{uuid.uuid4().hex[:16]}"  # unique among those in flight
        message = build_generate_request(request, request_id)
        call = self._stub.Generate(message, timeout=self.timeout)
        finished = False
        streamed = 0
        try:
            async for response in call:
                kind = response.WhichOneof("response")
                if kind == "chunk":
                    streamed += len(response.chunk.token_ids)
                    yield chunk_of(response.chunk)
                elif kind == "complete":
                    if response.complete.sequence_index != 0:
                        raise UpstreamError(f"TrtllmService sent sequence {response.complete.sequence_index} of 1")
                    finished = True
                    yield complete_of(response.complete, streamed)
            if not finished:
                raise UpstreamError(f"TrtllmService at {self.target} ended the stream without a GenerateComplete")
        except grpc.aio.AioRpcError as error:
            finished = True  # the server ended the call itself: nothing to abort
            raise rpc_failure(error, f"TrtllmService at {self.target}", self.timeout) from error
        finally:
            if not finished:
                self._abort(request_id)
                call.cancel()

    def _abort(self, request_id: str) -> None:
        """``Abort`` in a task of its own: it must reach the server even when the request's task is being
        cancelled (a client that went away); ``close`` waits for those still on their way."""
        task = asyncio.ensure_future(self._send_abort(request_id))
        self._aborts.add(task)
        task.add_done_callback(self._aborts.discard)

    async def _send_abort(self, request_id: str) -> None:
        try:
            await self._stub.Abort(pb.AbortRequest(request_id=request_id), timeout=ABORT_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            LOG.warning("Abort of %s at %s failed: %s", request_id, self.target, error.details() or error.code())


def build_generate_request(request: UpstreamRequest, request_id: str) -> pb.GenerateRequest:
    """The ``GenerateRequest`` for one sequence (``n`` choices are separate requests, as on the Triton lane)."""
    long_words = [word for word in request.stop_token_sequences if len(word) != 1]
    if long_words:
        raise UpstreamError(f"TrtllmService takes stop token ids one by one; got the sequences {long_words}")
    sampling = pb.SamplingConfig(beam_width=1, num_return_sequences=1)
    if request.temperature is None and request.top_p is None and request.top_k is None:
        sampling.top_k = 1  # greedy, as the Triton backend decodes with no knob set (the servicer would sample)
    for name in KNOBS:
        value = getattr(request, name)
        if value is not None:
            setattr(sampling, name, value)
    output = pb.OutputConfig(exclude_input_from_output=True)
    if request.return_log_probs or request.return_generation_logits:
        # at least 1: the chosen token's logprob is read from the server's top-k entries
        output.logprobs = max(request.top_logprobs if request.return_generation_logits else 0, 1)
    # the end id and every single-token stop word, once each (the server's own end id stops it too)
    stop_ids = list(dict.fromkeys([request.end_id, *(word[0] for word in request.stop_token_sequences)]))
    message = pb.GenerateRequest(
        request_id=request_id,
        tokenized=pb.TokenizedInput(input_token_ids=request.input_ids),
        sampling_config=sampling,
        output_config=output,
        max_tokens=request.max_new_tokens,
        streaming=True,
        ignore_eos=request.end_id < 0,
        stop_token_ids=[] if request.end_id < 0 else stop_ids,
        include_stop_token_in_output=request.keep_end_token,
    )
    if request.guided is not None:
        message.guided_decoding.guide_type = GUIDE_TYPES[request.guided.guide_type]
        message.guided_decoding.guide = request.guided.guide or ANY_JSON_GUIDE
    return message


def _logprobs(entries: list[pb.TokenLogprob]) -> tuple[list[float] | None, tuple[tuple[TopLogprob, ...], ...] | None]:
    if not entries:
        return None, None
    values = [entry.logprob for entry in entries]
    top = tuple(
        tuple(
            TopLogprob(alt.token_id, alt.logprob)
            for alt in sorted(entry.top_logprobs, key=lambda alt: (-alt.logprob, alt.token_id))
        )
        for entry in entries
    )
    return values, top


def chunk_of(chunk: pb.GenerateStreamChunk) -> UpstreamChunk:
    if chunk.sequence_index != 0:
        raise UpstreamError(f"TrtllmService sent sequence {chunk.sequence_index} of 1")
    values, top = _logprobs(list(chunk.logprobs))
    return UpstreamChunk(token_ids=list(chunk.token_ids), logprobs=values, final=False, top_logprobs=top)


def complete_of(complete: pb.GenerateComplete, streamed: int) -> UpstreamChunk:
    """The last chunk: tokens the stream did not carry yet (none, from the servicer read), and the finish reason;
    ``error`` (the servicer's word for a result without outputs) or an unknown reason is an upstream error."""
    reason = FINISH_REASONS.get(complete.finish_reason)
    if reason is None:
        raise UpstreamError(f"TrtllmService finished the request with finish_reason {complete.finish_reason!r}")
    tail = list(complete.output_token_ids)[streamed:]
    values, top = _logprobs(list(complete.logprobs)[streamed:])
    return UpstreamChunk(
        token_ids=tail,
        logprobs=values if tail else None,
        final=True,
        top_logprobs=top if tail else None,
        finish_reason=reason,
    )
