"""Triton Python-backend glue: ``TritonPythonModel`` for the reference ``tensorrt_llm`` model.

Runs inside Triton's Python stub; ``triton_python_backend_utils`` exists only there. Model parameters:
``mode`` (``scripted`` or ``hf``), ``tokenizer_dir``, ``model_dir`` (hf), ``device`` (hf, default cuda when
present), ``stats_file`` (JSON counters). Relative paths are resolved against the model's folder.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trtllm_nix_testkit.reference.contract import BadRequest, parse_request
from trtllm_nix_testkit.reference.engine import InflightEngine
from trtllm_nix_testkit.reference.generators import Generator, HfGenerator, ScriptedGenerator
from trtllm_nix_testkit.reference.guided import grammar_from_parameters
from trtllm_nix_testkit.reference.stats import StatsFile

LOGPROB_OUTPUTS = frozenset({"cum_log_probs", "output_log_probs"})


class _TritonSink:
    """Sends one request's responses through its decoupled response sender."""

    def __init__(self, pb: Any, sender: Any, with_logprobs: bool) -> None:
        self._pb = pb
        self._sender = sender
        self._with_logprobs = with_logprobs

    def is_cancelled(self) -> bool:
        return bool(self._sender.is_cancelled())

    def send(
        self,
        tokens: list[int],
        logprobs: list[float],
        sequence_length: int,
        final: bool,
        extras: dict[str, Any] | None = None,
    ) -> None:
        pb = self._pb
        tensors = [
            pb.Tensor("output_ids", np.asarray(tokens, dtype=np.int32).reshape(1, 1, -1)),
            pb.Tensor("sequence_length", np.asarray([[sequence_length]], dtype=np.int32)),
        ]
        if self._with_logprobs:
            values = np.asarray(logprobs, dtype=np.float32).reshape(1, 1, -1)
            tensors.append(pb.Tensor("output_log_probs", values))
            tensors.append(pb.Tensor("cum_log_probs", np.asarray([[values.sum()]], dtype=np.float32)))
        for name, array in (extras or {}).items():
            tensors.append(pb.Tensor(name, array))
        flags = pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL if final else 0
        self._sender.send(pb.InferenceResponse(output_tensors=tensors), flags=flags)

    def finish(self) -> None:
        self._sender.send(flags=self._pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def fail(self, message: str) -> None:
        pb = self._pb
        response = pb.InferenceResponse(output_tensors=[], error=pb.TritonError(message))
        self._sender.send(response, flags=pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL)


class TritonPythonModel:
    """The reference ``tensorrt_llm`` model (decoupled): queue each request, stream from the engine thread."""

    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb

        self._pb = pb
        config = json.loads(args["model_config"])
        params = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
        if not pb.using_decoupled_model_transaction_policy(config):
            raise ValueError("the tensorrt_llm model must use the decoupled transaction policy")
        base = Path(args["model_repository"])
        mode = params.get("mode", "scripted")
        rank = int(os.environ.get("OMPI_COMM_WORLD_RANK") or 0)
        generator: Generator
        if mode == "scripted":
            grammar = grammar_from_parameters(params, base, None)
            generator = ScriptedGenerator(_resolve(base, params, "tokenizer_dir"), grammar=grammar)
        elif mode == "hf":
            model_dir = _resolve(base, params, "model_dir")
            grammar = grammar_from_parameters(params, base, model_dir)
            generator = HfGenerator(model_dir, device=params.get("device") or _device(rank), grammar=grammar)
        else:
            raise ValueError(f"unknown reference backend mode {mode!r}; use 'scripted' or 'hf'")
        if rank > 0 and params.get("leader_mode", "true") != "false":
            # TensorRT-LLM's leader mode: worker ranks never return from initialize; rank 0 serves. (The reference
            # backend does not shard the model; a worker holds its own copy and waits.)
            pb.Logger.log_info(f"trtllm-nix reference backend: rank {rank} is a leader-mode worker ({mode})")
            threading.Event().wait()
        stats_path = params.get("stats_file") or os.environ.get("TRTLLM_NIX_REFERENCE_STATS", "")
        self._engine = InflightEngine(generator, StatsFile(Path(stats_path) if stats_path else None))
        self._gathered = {
            flag: params.get(f"gather_{flag}", "false") == "true" for flag in ("context_logits", "generation_logits")
        }
        pb.Logger.log_info(f"trtllm-nix reference backend ready (mode={mode})")

    def execute(self, requests: list[Any]) -> None:
        pb = self._pb
        for request in requests:
            sender = request.get_response_sender()
            sink = _TritonSink(pb, sender, with_logprobs=False)
            try:
                parameters = json.loads(request.parameters() or "{}")
                parsed = parse_request(_getter(pb, request), parameters)
            except (BadRequest, ValueError, TypeError) as error:
                sink.fail(f"bad request to tensorrt_llm: {error}")
                continue
            refused = [flag for flag, on in self._gathered.items() if not on and getattr(parsed, f"return_{flag}")]
            if refused:
                sink.fail(
                    f"bad request to tensorrt_llm: return_{refused[0]} needs an engine built with --gather_{refused[0]}"
                )
                continue
            requested = set(request.requested_output_names())
            sink = _TritonSink(pb, sender, with_logprobs=parsed.return_log_probs or bool(requested & LOGPROB_OUTPUTS))
            self._engine.submit(parsed, sink)
        return

    def finalize(self) -> None:
        self._engine.shutdown()


def _getter(pb: Any, request: Any) -> Callable[[str], Any]:
    def get(name: str) -> Any:
        tensor = pb.get_input_tensor_by_name(request, name)
        return None if tensor is None else tensor.as_numpy()

    return get


def _device(rank: int) -> str | None:
    """The rank's own GPU (rank r uses visible device r), when CUDA is present."""
    import torch

    if not torch.cuda.is_available():
        return None
    return f"cuda:{rank % torch.cuda.device_count()}"


def _resolve(base: Path, params: dict[str, str], key: str) -> Path:
    value = params.get(key)
    if not value:
        raise ValueError(f"the reference backend needs the model parameter {key!r}")
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()
