"""The ``tensorrt_llm`` model's ``config.pbtxt``: the real C++ backend, or a Python stand-in (the testkit's).

Every option a user would tune is a field with TensorRT-LLM's own default (model_instance_state.cc), so an
unset field means exactly what it means upstream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from tritonclient.grpc import model_config_pb2 as pb

from trtllm_nix.repo.tensors import TENSORRT_LLM_INPUTS, TENSORRT_LLM_OUTPUTS

EXECUTOR_WORKER = "/opt/tritonserver/backends/tensorrtllm/trtllmExecutorWorker"
SchedulerPolicy = Literal["guaranteed_no_evict", "max_utilization"]
# "V1" (static batching) is still parsed by the C++ backend, but deprecated upstream (TensorRT-LLM PR #5562).
BatchingStrategy = Literal["inflight_fused_batching", "inflight_batching"]
GuidedDecodingBackend = Literal["", "xgrammar"]
DecodingMode = Literal["top_k", "top_p", "top_k_top_p", "beam_search", "medusa", "redrafter", "lookahead", "eagle"]


@dataclass(frozen=True)
class TensorrtLlmOptions:
    """Runtime options of the TensorRT-LLM backend; defaults are upstream's."""

    batching_strategy: BatchingStrategy = "inflight_fused_batching"
    batch_scheduler_policy: SchedulerPolicy = "guaranteed_no_evict"
    kv_cache_free_gpu_mem_fraction: float = 0.9
    max_tokens_in_paged_kv_cache: int | None = None
    enable_kv_cache_reuse: bool = True
    # None: on where the engine allows it (paged context FMHA), so prompts longer than max_num_tokens still run.
    enable_chunked_context: bool | None = None
    exclude_input_in_output: bool = True  # upstream default false echoes the prompt; nobody wants that
    decoding_mode: DecodingMode | None = None  # unset: TensorRT-LLM picks top_k_top_p
    max_beam_width: int = 1
    max_attention_window_size: int | None = None
    cancellation_check_period_ms: int = 100
    stats_check_period_ms: int = 100
    normalize_log_probs: bool = True
    multi_block_mode: bool = True
    cuda_graph_mode: bool = False
    kv_cache_host_memory_bytes: int = 0
    max_queue_delay_microseconds: int = 0
    max_queue_size: int = 0
    executor_worker_path: str = EXECUTOR_WORKER
    # Guided decoding: off (empty backend), as upstream's template leaves it; "xgrammar" needs the tokenizer-info
    # JSON (keys encoded_vocab, tokenizer_str, stop_token_ids) at xgrammar_tokenizer_info_path.
    guided_decoding_backend: GuidedDecodingBackend = ""
    xgrammar_tokenizer_info_path: str = ""

    def validate(self) -> None:
        if not 0.0 < self.kv_cache_free_gpu_mem_fraction <= 1.0:
            raise ValueError(
                f"kv_cache_free_gpu_mem_fraction must be in (0, 1], got {self.kv_cache_free_gpu_mem_fraction}"
            )
        for name in ("max_beam_width", "cancellation_check_period_ms", "stats_check_period_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_tokens_in_paged_kv_cache", "max_attention_window_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        for name in ("kv_cache_host_memory_bytes", "max_queue_delay_microseconds", "max_queue_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.guided_decoding_backend and not self.xgrammar_tokenizer_info_path:
            raise ValueError("guided_decoding_backend xgrammar needs xgrammar_tokenizer_info_path")


@dataclass(frozen=True)
class ReferenceBackend:
    """A Python model in place of the TensorRT-LLM C++ backend: the testkit's CPU reference backend
    (``trtllm_nix_testkit.repository`` fills it in). ``model_py`` is its ``1/model.py``; the rest are parameters."""

    mode: Literal["scripted", "hf"]
    tokenizer_dir: str
    model_py: str
    model_dir: str = ""
    stats_file: str = ""
    device: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def manifest(self) -> dict[str, object]:
        """What the manifest records: the parameters, not the model file."""
        return {name: value for name, value in asdict(self).items() if name != "model_py"}


def tensorrt_llm_config(
    max_batch_size: int, engine_dir: str, options: TensorrtLlmOptions, reference: ReferenceBackend | None = None
) -> pb.ModelConfig:
    options.validate()
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
    config = pb.ModelConfig(
        name="tensorrt_llm",
        backend="python" if reference else "tensorrtllm",
        max_batch_size=max_batch_size,
        model_transaction_policy=pb.ModelTransactionPolicy(decoupled=True),
        input=[t.as_input() for t in TENSORRT_LLM_INPUTS],
        output=[t.as_output() for t in TENSORRT_LLM_OUTPUTS],
        instance_group=[pb.ModelInstanceGroup(count=1, kind=pb.ModelInstanceGroup.KIND_CPU)],
    )
    config.dynamic_batching.preferred_batch_size.append(max_batch_size)
    config.dynamic_batching.max_queue_delay_microseconds = options.max_queue_delay_microseconds
    config.dynamic_batching.default_queue_policy.max_queue_size = options.max_queue_size
    params = {
        "gpt_model_type": options.batching_strategy,
        "gpt_model_path": engine_dir,
        "batch_scheduler_policy": options.batch_scheduler_policy,
        "kv_cache_free_gpu_mem_fraction": _number(options.kv_cache_free_gpu_mem_fraction),
        "enable_kv_cache_reuse": _flag(options.enable_kv_cache_reuse),
        "enable_chunked_context": _flag(bool(options.enable_chunked_context)),
        "exclude_input_in_output": _flag(options.exclude_input_in_output),
        "max_beam_width": str(options.max_beam_width),
        "cancellation_check_period_ms": str(options.cancellation_check_period_ms),
        "stats_check_period_ms": str(options.stats_check_period_ms),
        "normalize_log_probs": _flag(options.normalize_log_probs),
        "multi_block_mode": _flag(options.multi_block_mode),
        "cuda_graph_mode": _flag(options.cuda_graph_mode),
        "kv_cache_host_memory_bytes": str(options.kv_cache_host_memory_bytes),
        "executor_worker_path": options.executor_worker_path,
        "FORCE_CPU_ONLY_INPUT_TENSORS": "no",
        # Read with no default by model_instance_state.cc: a missing key fails the load on every rank.
        "tokenizer_dir": "",  # the C++ guided-decoding path ignores it (and logs so when it is set)
        "guided_decoding_backend": options.guided_decoding_backend,
        "xgrammar_tokenizer_info_path": options.xgrammar_tokenizer_info_path,
    }
    if options.decoding_mode:
        params["decoding_mode"] = options.decoding_mode
    if options.max_tokens_in_paged_kv_cache is not None:
        params["max_tokens_in_paged_kv_cache"] = str(options.max_tokens_in_paged_kv_cache)
    if options.max_attention_window_size is not None:
        params["max_attention_window_size"] = str(options.max_attention_window_size)
    if reference:
        params.update(
            mode=reference.mode,
            tokenizer_dir=reference.tokenizer_dir,
            model_dir=reference.model_dir,
            stats_file=reference.stats_file,
            device=reference.device,
            **reference.extra,
        )
    for key in sorted(params):
        config.parameters[key].string_value = params[key]
    return config


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _number(value: float) -> str:
    return repr(float(value))
