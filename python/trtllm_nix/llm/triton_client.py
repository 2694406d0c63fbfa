"""Token ids to and from Triton's ``tensorrt_llm`` model: one gRPC bidi stream per request, on a shared channel.

Requests ask for ``triton_enable_empty_final_response`` so the last response says it is last; a stream read to
its end is never cancelled (that leaks in Triton 2.51), a stream abandoned early always is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc

from trtllm_nix.llm.upstream_types import (
    TokenSource,
    UpstreamChunk,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
    word_list,
)

# Re-exported: the proxy imports the upstream types from here
__all__ = ["TokenSource", "UpstreamChunk", "UpstreamError", "UpstreamRequest", "UpstreamTimeout", "UpstreamUnavailable"]

_MAX_MESSAGE = 64 * 1024 * 1024
# A response with context logits holds fp32 [prompt tokens x vocab]: 0.58 MiB per prompt token for Qwen3's 151936
# (the proxy refuses prompts whose logits would pass CONTEXT_LOGITS_BYTES, see proxy.serving.completion).
CONTEXT_LOGITS_BYTES = 1024 * 1024 * 1024
# Keepalive within what tritonserver accepts by default (its --help: pings no closer than 300000 ms while it sends
# nothing, none on an idle connection, GOAWAY "too_many_pings" after 2 strikes, which kills the streams in flight).
# A half-open connection to a remote Triton is noticed about 5 min 20 s into a silent call, not at the deadline.
KEEPALIVE_TIME_MS = 300_000
KEEPALIVE_PERMIT_WITHOUT_CALLS = 0
# gRPC's reconnect backoff grows to 120 s by default: a proxy started before its Triton (a TP4 engine loads for
# minutes), or a Triton down for minutes, would answer 503 for up to two minutes after it is back.
MAX_RECONNECT_BACKOFF_MS = 3_000


def channel_options(max_receive: int = _MAX_MESSAGE) -> list[tuple[str, int]]:
    """The options of a channel to an upstream (Triton, or the TrtllmService client's, which shares them)."""
    return [
        ("grpc.max_send_message_length", _MAX_MESSAGE),
        ("grpc.max_receive_message_length", max_receive),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", KEEPALIVE_PERMIT_WITHOUT_CALLS),
        ("grpc.initial_reconnect_backoff_ms", 1_000),
        ("grpc.min_reconnect_backoff_ms", 1_000),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
    ]


def rpc_failure(error: grpc.aio.AioRpcError, server: str, timeout: float | None) -> Exception:
    """The upstream error a failed stream from ``server`` ("Triton at HOST:PORT") raises."""
    code = error.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return UpstreamTimeout(f"{server} did not finish within {timeout} s")
    if code == grpc.StatusCode.UNAVAILABLE:
        return UpstreamUnavailable(f"{server} is not reachable: {error.details()}")
    if code == grpc.StatusCode.CANCELLED:
        return UpstreamUnavailable(f"{server} cancelled the stream")
    return UpstreamError(error.details() or str(code))


class TritonUpstream:
    """Owns one gRPC channel to a tritonserver; safe to share across concurrent requests."""

    def __init__(self, url: str, model: str = "tensorrt_llm", timeout: float | None = None) -> None:
        self.url = url
        self.model = model
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(url, options=channel_options(CONTEXT_LOGITS_BYTES + _MAX_MESSAGE))
        self._stub = service_pb2_grpc.GRPCInferenceServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def ready(self, timeout: float = 2.0) -> bool:
        """True when the server is ready and the model is loaded and ready."""
        try:
            server = await self._stub.ServerReady(service_pb2.ServerReadyRequest(), timeout=timeout)
            if not server.ready:
                return False
            model = await self._stub.ModelReady(service_pb2.ModelReadyRequest(name=self.model), timeout=timeout)
            return bool(model.ready)
        except grpc.aio.AioRpcError:
            return False

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        """Stream the generated token ids; closing the iterator early cancels the request in Triton."""
        message = build_infer_request(self.model, request)

        async def one_request() -> AsyncIterator[service_pb2.ModelInferRequest]:
            yield message

        call = self._stub.ModelStreamInfer(one_request(), timeout=self.timeout)
        finished = False
        try:
            async for response in call:
                if response.error_message:
                    raise UpstreamError(response.error_message)
                yield parse_response(response.infer_response)
            finished = True
        except grpc.aio.AioRpcError as error:
            finished = True
            raise rpc_failure(error, f"Triton at {self.url}", self.timeout) from error
        finally:
            if not finished:
                call.cancel()


def build_infer_request(model: str, request: UpstreamRequest) -> service_pb2.ModelInferRequest:
    tensors: list[tuple[str, str, np.ndarray]] = [  # type: ignore[type-arg]
        ("input_ids", "INT32", np.asarray([request.input_ids], dtype=np.int32)),
        ("input_lengths", "INT32", np.asarray([[len(request.input_ids)]], dtype=np.int32)),
        ("request_output_len", "INT32", np.asarray([[request.max_new_tokens]], dtype=np.int32)),
        ("end_id", "INT32", np.asarray([[request.end_id]], dtype=np.int32)),
        ("pad_id", "INT32", np.asarray([[request.pad_id]], dtype=np.int32)),
        ("streaming", "BOOL", np.asarray([[True]], dtype=np.bool_)),
    ]
    if request.stop_token_sequences:
        tensors.append(("stop_words_list", "INT32", word_list(request.stop_token_sequences)))
    optional_floats = {
        "temperature": request.temperature,
        "runtime_top_p": request.top_p,
        "repetition_penalty": request.repetition_penalty,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
    }
    for name, value in optional_floats.items():
        if value is not None:
            tensors.append((name, "FP32", np.asarray([[value]], dtype=np.float32)))
    if request.top_k is not None:
        tensors.append(("runtime_top_k", "INT32", np.asarray([[request.top_k]], dtype=np.int32)))
    if request.seed is not None:
        tensors.append(("seed", "UINT64", np.asarray([[request.seed]], dtype=np.uint64)))
    for flag in ("return_log_probs", "return_context_logits", "return_generation_logits"):
        if getattr(request, flag):
            tensors.append((flag, "BOOL", np.asarray([[True]], dtype=np.bool_)))
    guided = request.guided
    strings = {"guided_decoding_guide_type": guided.guide_type, "guided_decoding_guide": guided.guide} if guided else {}

    message = service_pb2.ModelInferRequest(model_name=model, id=request.request_id)
    for name, datatype, array in tensors:
        message.inputs.append(
            service_pb2.ModelInferRequest.InferInputTensor(name=name, datatype=datatype, shape=list(array.shape))
        )
        message.raw_input_contents.append(array.tobytes())
    for name, text in strings.items():  # BYTES, [1, 1] like every per-request scalar: a 4-byte length, then the bytes
        data = text.encode("utf-8")
        message.inputs.append(service_pb2.ModelInferRequest.InferInputTensor(name=name, datatype="BYTES", shape=[1, 1]))
        message.raw_input_contents.append(len(data).to_bytes(4, "little") + data)
    outputs = ["output_ids", "sequence_length"] + (["output_log_probs"] if request.return_log_probs else [])
    outputs += ["context_logits"] if request.return_context_logits else []
    outputs += ["generation_logits"] if request.return_generation_logits else []
    for name in outputs:
        message.outputs.append(service_pb2.ModelInferRequest.InferRequestedOutputTensor(name=name))
    message.parameters["triton_enable_empty_final_response"].bool_param = True
    for key, parameter in request.parameters.items():
        _set_parameter(message.parameters[key], parameter)
    return message


def parse_response(response: service_pb2.ModelInferResponse) -> UpstreamChunk:
    final = "triton_final_response" in response.parameters and response.parameters["triton_final_response"].bool_param
    token_ids: list[int] = []
    logprobs: list[float] | None = None
    logits: dict[str, np.ndarray] = {}  # type: ignore[type-arg]
    for output, raw in zip(response.outputs, response.raw_output_contents, strict=False):
        if output.name == "output_ids":
            token_ids = np.frombuffer(raw, dtype=np.int32).tolist()
        elif output.name == "output_log_probs":
            logprobs = np.frombuffer(raw, dtype=np.float32).tolist()
        elif output.name in ("context_logits", "generation_logits") and output.shape:
            dtype = np.float16 if output.datatype == "FP16" else np.float32
            values = np.frombuffer(raw, dtype=dtype).astype(np.float32)
            logits[output.name] = values.reshape(-1, int(output.shape[-1])) if values.size else values
    return UpstreamChunk(
        token_ids=token_ids,
        logprobs=logprobs,
        final=final,
        context_logits=logits.get("context_logits"),
        generation_logits=logits.get("generation_logits"),
    )


def _set_parameter(parameter: service_pb2.InferParameter, value: int | float | str | bool) -> None:
    if isinstance(value, bool):
        parameter.bool_param = value
    elif isinstance(value, int):
        parameter.int64_param = value
    elif isinstance(value, float):
        parameter.double_param = value
    else:
        parameter.string_param = value
