"""``ensemble``: upstream's text contract, byte-correct and cancellable.

Each request is tokenized, sent as token ids to ``tensorrt_llm`` over the server's own gRPC endpoint (one stream per
request, so cancelling it reaches the engine), and the generated ids are decoded incrementally from the whole
sequence, so streamed text deltas concatenate to exactly the non-streamed text. A client that cancels (closes its
``generate_stream`` connection or gRPC stream) is noticed within ``CANCEL_POLL_S`` and its generation is cancelled.

Why gRPC to our own server and not BLS (``pb_utils.InferenceRequest(...).stream_exec()``): the Python backend's BLS
can cancel a decoupled request it started only from Triton 2.57 (container 25.04) on (``InferenceResponse``
iterator ``cancel()``); users' image (25.12) carries 2.64 and has it, but the tritonserver our tests run (2.51, the
nvidia-pytriton wheel) does not, so a BLS path could not be shown to cancel here. A gRPC stream cancels on every
version we meet, so it is the one path, tested where it runs. Its cost: when it starts, this model needs grpcio and
tritonclient's generated protos (``trtllm_nix.llm.triton_client``, imported in ``initialize`` only), which the
image's Python may lack (TensorRT-LLM's requirements.txt lists neither directly); the module itself imports with
numpy and tokenizers alone (tests/repo/test_models_import.py); without grpcio it still loads, logs one line naming
it and refuses each request with that line (tests/runtime/test_serve_runtime.py).
See docs/runtime.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtllm_nix.llm.generation import Outcome, generate_text
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.upstream_types import UpstreamRequest
from trtllm_nix.triton_models.common import Inputs, model_parameters, resolve_path, string_tensor

GRPC_URL_ENV = "TRTLLM_NIX_TRITON_GRPC_URL"
CANCEL_POLL_S = 0.05
UNSUPPORTED = {
    "lora_task_id": "LoRA adapters",
    "guided_decoding_guide_type": "guided decoding",
    "guided_decoding_guide": "guided decoding",
    "bad_words": "bad words",
}


@dataclass(frozen=True)
class TextJob:
    prompt: str
    upstream: UpstreamRequest
    stops: list[str]
    stream: bool
    include_prompt: bool
    wanted: frozenset[str]


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb

        self._pb = pb
        params = model_parameters(args)
        max_seq_len = int(params.get("max_seq_len") or 0) or None
        self._files = ModelFiles.load(resolve_path(args, params["tokenizer_dir"]), max_seq_len)
        url = os.environ.get(GRPC_URL_ENV) or params.get("triton_grpc_url") or "127.0.0.1:8001"
        model = params.get("tensorrt_llm_model_name") or "tensorrt_llm"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="text-generation", daemon=True)
        self._thread.start()
        # Without grpcio in the server's Python the ensemble still loads (tritonserver exits when a model fails to
        # load, which would take tensorrt_llm and the OpenAI proxy's path down with it) and refuses each request.
        self._unavailable = ""
        try:
            self._upstream = self._call(self._make_upstream(url, model))
        except RuntimeError as error:
            self._unavailable = str(error)
            pb.Logger.log_error(f"trtllm-nix ensemble: {error}")
            return
        pb.Logger.log_info(f"trtllm-nix ensemble: {model} over gRPC at {url}")

    async def _make_upstream(self, url: str, model: str) -> Any:
        try:
            from trtllm_nix.llm.triton_client import TritonUpstream
        except ImportError as error:
            raise RuntimeError(
                f"the trtllm-nix ensemble talks to {model} over gRPC and needs grpcio and tritonclient in the "
                f"server's Python ({error}); serve without the ensemble (the OpenAI proxy does not use it)"
            ) from error
        return TritonUpstream(url, model)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            sender = request.get_response_sender()
            if self._unavailable:
                self._fail(sender, f"ensemble: {self._unavailable}")
                continue
            try:
                parameters = json.loads(request.parameters() or "{}")
                job = self._parse(Inputs(self._pb, request), frozenset(request.requested_output_names()), parameters)
            except (ValueError, UnicodeDecodeError, json.JSONDecodeError) as error:
                self._fail(sender, f"ensemble: {error}")
                continue
            asyncio.run_coroutine_threadsafe(self._serve(job, sender), self._loop)

    def finalize(self) -> None:
        if not self._unavailable:
            with contextlib.suppress(Exception):
                self._call(self._upstream.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _parse(self, inputs: Inputs, wanted: frozenset[str], parameters: dict[str, Any]) -> TextJob:
        for name, feature in UNSUPPORTED.items():
            if inputs.array(name) is not None:
                raise ValueError(f"{name}: {feature} are not supported by trtllm-nix's text endpoint")
        for name in ("beam_width", "num_return_sequences"):
            value = inputs.scalar(name)
            if value is not None and int(value) != 1:
                raise ValueError(f"{name} must be 1, got {value}")
        prompt = inputs.string("text_input")
        max_tokens = inputs.scalar("max_tokens")
        if prompt is None or max_tokens is None:
            raise ValueError("text_input and max_tokens are required")
        if int(max_tokens) < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        files = self._files
        ids = files.encode(prompt)
        room = files.context_length - len(ids)
        if room < 1 or int(max_tokens) > room:
            raise ValueError(f"the {len(ids)}-token prompt plus max_tokens {max_tokens} exceed {files.context_length}")
        end_id = inputs.scalar("end_id")
        pad_id = inputs.scalar("pad_id")
        temperature = inputs.scalar("temperature")
        top_k = inputs.scalar("top_k")
        top_p = inputs.scalar("top_p")
        if temperature is not None and float(temperature) == 0.0:
            temperature, top_k, top_p = None, 1, None
        upstream = UpstreamRequest(
            input_ids=ids,
            max_new_tokens=int(max_tokens),
            end_id=int(end_id) if end_id is not None else files.eos_token_id,
            pad_id=int(pad_id) if pad_id is not None else files.pad_token_id,
            stop_token_sequences=[[t] for t in files.end_token_ids if end_id is None and t != files.eos_token_id],
            temperature=_float(temperature),
            top_k=int(top_k) if top_k is not None else None,
            top_p=_float(top_p),
            seed=int(inputs.scalar("seed")) if inputs.scalar("seed") is not None else None,
            repetition_penalty=_float(inputs.scalar("repetition_penalty")),
            presence_penalty=_float(inputs.scalar("presence_penalty")),
            frequency_penalty=_float(inputs.scalar("frequency_penalty")),
            return_log_probs=bool(inputs.scalar("return_log_probs")),
            parameters={k: v for k, v in parameters.items() if isinstance(v, (bool, int, float, str))},
        )
        exclude = inputs.scalar("exclude_input_in_output")
        return TextJob(
            prompt=prompt,
            upstream=upstream,
            stops=[word for word in inputs.strings("stop_words") or [] if word],
            stream=bool(inputs.scalar("stream")),
            include_prompt=exclude is not None and not bool(exclude),
            wanted=wanted,
        )

    async def _serve(self, job: TextJob, sender: Any) -> None:
        pb = self._pb
        outcome = Outcome(prompt_tokens=len(job.upstream.input_ids))
        watcher = asyncio.ensure_future(_until(sender.is_cancelled))
        pieces: list[str] = [job.prompt] if job.include_prompt and not job.stream else []
        try:
            generation = generate_text(self._upstream, job.upstream, self._files, job.stops, outcome)
            async for piece in _racing(generation, watcher):
                if job.stream:
                    sender.send(self._response([piece], outcome, job, final=False))
                else:
                    pieces.append(piece)
            if watcher.done():
                sender.send(flags=pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                return
            final_text = [""] if job.stream else ["".join(pieces)]
            sender.send(
                self._response(final_text, outcome, job, final=True), flags=pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL
            )
        except Exception as error:  # every request ends with a FINAL response, whatever happened
            self._fail(sender, f"ensemble: generation failed: {error}")
        finally:
            watcher.cancel()

    def _response(self, text: list[str], outcome: Outcome, job: TextJob, final: bool) -> Any:
        pb = self._pb
        tensors = [string_tensor(pb, "text_output", text, (1, len(text)))]
        if final and job.upstream.return_log_probs:
            values = np.asarray(outcome.logprobs, dtype=np.float32).reshape(1, 1, -1)
            tensors.append(pb.Tensor("output_log_probs", values))
            tensors.append(pb.Tensor("cum_log_probs", np.asarray([[values.sum()]], dtype=np.float32)))
        if final and "num_input_tokens" in job.wanted:
            tensors.append(pb.Tensor("num_input_tokens", np.asarray([[outcome.prompt_tokens]], dtype=np.int32)))
        if final and "num_output_tokens" in job.wanted:
            tensors.append(pb.Tensor("num_output_tokens", np.asarray([[outcome.completion_tokens]], dtype=np.int32)))
        return pb.InferenceResponse(output_tensors=tensors)

    def _fail(self, sender: Any, message: str) -> None:
        pb = self._pb
        with contextlib.suppress(Exception):
            sender.send(
                pb.InferenceResponse(output_tensors=[], error=pb.TritonError(message)),
                flags=pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL,
            )


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition``: the Python stub offers no callback for a cancelled request."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(CANCEL_POLL_S)


async def _racing(generation: Any, watcher: asyncio.Future[None]) -> Any:
    """Yield from ``generation`` until it ends or ``watcher`` fires; then close it (cancelling the upstream)."""
    iterator = generation.__aiter__()
    try:
        while True:
            step = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({step, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                yield step.result()
            except StopAsyncIteration:
                return
    finally:
        await generation.aclose()


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
