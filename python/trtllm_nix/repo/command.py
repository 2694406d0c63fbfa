"""``trtllm-nix repo generate``: write a Triton model repository for an engine folder."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

from trtllm_nix.repo.tensorrt_llm_model import TensorrtLlmOptions

OPTION_HELP = {
    "batching_strategy": "gpt_model_type: in-flight fused or in-flight batching (static V1 is deprecated upstream)",
    "batch_scheduler_policy": "guaranteed_no_evict reserves KV cache for whole requests; max_utilization packs more",
    "kv_cache_free_gpu_mem_fraction": "fraction of free GPU memory (after the engine loads) given to the KV cache",
    "max_tokens_in_paged_kv_cache": "cap on KV cache tokens (unset: what the fraction allows)",
    "enable_kv_cache_reuse": "reuse KV blocks of shared prompt prefixes (needs paged context FMHA in the engine)",
    "enable_chunked_context": "chunk long prompts (needs paged context FMHA; unset: on where the engine has it)",
    "exclude_input_in_output": "do not echo the prompt in output_ids",
    "decoding_mode": "force a decoding mode (unset: TensorRT-LLM picks top_k_top_p)",
    "max_beam_width": "beams per request",
    "max_attention_window_size": "sliding attention window (unset: max_seq_len)",
    "cancellation_check_period_ms": "how often the executor looks for cancelled requests",
    "stats_check_period_ms": "how often the executor reports statistics",
    "normalize_log_probs": "normalize returned log probabilities",
    "multi_block_mode": "split long-context attention across blocks",
    "cuda_graph_mode": "capture CUDA graphs for generation steps",
    "kv_cache_host_memory_bytes": "host memory for KV cache offloading (0: none)",
    "max_queue_delay_microseconds": "dynamic batcher queue delay",
    "max_queue_size": "dynamic batcher queue size (0: unbounded)",
    "executor_worker_path": "trtllmExecutorWorker inside the runtime",
    "guided_decoding_backend": "guided decoding backend (empty: off; xgrammar needs --xgrammar-tokenizer-info-path)",
    "xgrammar_tokenizer_info_path": "xgrammar tokenizer-info JSON (encoded_vocab, tokenizer_str, stop_token_ids)",
}


def register(commands: Any) -> None:
    repo = commands.add_parser("repo", help="Triton model repositories")
    actions = repo.add_subparsers(dest="repo_command", required=True, metavar="ACTION")
    parser = actions.add_parser("generate", help="write a model repository for a TensorRT-LLM engine")
    parser.add_argument("--engine", type=Path, required=True, help="engine folder (config.json, rank*.engine)")
    parser.add_argument(
        "--tokenizer",
        type=Path,
        help="tokenizer folder (tokenizer.json; default: the engine's tokenizer/ folder, or the engine folder itself "
        "when the tokenizer files sit beside its config.json)",
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the repository")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--engine-path", help="engine path as the server will see it (default: --engine, absolute)")
    parser.add_argument("--max-batch-size", type=int, help="Triton max_batch_size (default: the engine's)")
    parser.add_argument("--preprocessing-instances", type=int, default=1)
    parser.add_argument(
        "--guided-decoding",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="xgrammar guided decoding (structured outputs, forced tool calls): writes the tokenizer-info file and "
        "sets guided_decoding_backend (default: on when the tokenizer has an eos_token and contiguous ids)",
    )
    group = parser.add_argument_group("tensorrt_llm model options (defaults are TensorRT-LLM's)")
    _add_options(group)
    parser.set_defaults(handler=run)


def _add_options(group: argparse._ArgumentGroup) -> None:
    hints = typing.get_type_hints(TensorrtLlmOptions)
    for option in dataclasses.fields(TensorrtLlmOptions):
        flag = "--" + option.name.replace("_", "-")
        help_text = f"{OPTION_HELP.get(option.name, '')} (default: {option.default})"
        kind = hints[option.name]
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None: X
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=option.default, help=help_text)
        elif typing.get_origin(kind) is typing.Literal:
            choices = [str(value) for value in typing.get_args(kind)]
            group.add_argument(flag, choices=choices, default=option.default, help=help_text)
        else:
            group.add_argument(flag, type=kind, default=option.default, help=help_text)


def run(args: argparse.Namespace) -> int:
    from trtllm_nix.engine.engine_config import engine_tokenizer, read_engine
    from trtllm_nix.errors import UserError
    from trtllm_nix.repo.generate import RepositorySpec, write_repository
    from trtllm_nix.repo.tokenizer_info import guided_decoding_possible

    engine = read_engine(args.engine)
    if args.tokenizer is None:
        args.tokenizer = engine_tokenizer(args.engine)
        if args.tokenizer is None:
            raise UserError(
                f"{args.engine} has no tokenizer (neither tokenizer/ nor tokenizer.json beside config.json); pass "
                "--tokenizer"
            )
    options = TensorrtLlmOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TensorrtLlmOptions)})
    spec = RepositorySpec(
        engine=engine,
        engine_path=args.engine_path or str(args.engine.resolve()),
        tokenizer_path=args.tokenizer.resolve(),
        options=options,
        max_batch_size=args.max_batch_size,
        preprocessing_instances=args.preprocessing_instances,
        guided_decoding=guided_decoding_possible(args.tokenizer)
        if args.guided_decoding is None
        else args.guided_decoding,
    )
    out = write_repository(spec, args.out, force=args.force)
    guided = "on" if spec.guided_decoding else "off"
    print(
        f"wrote {out} (world size {engine.world_size}, max_batch_size {spec.triton_max_batch_size}, "
        f"guided decoding {guided})"
    )
    return 0
