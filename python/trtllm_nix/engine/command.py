"""``trtllm-nix engine build | check | tokenizer``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    engine = commands.add_parser("engine", help="build and check TensorRT-LLM engines")
    actions = engine.add_subparsers(dest="engine_command", required=True, metavar="ACTION")

    build = actions.add_parser("build", help="build a verified engine from a pre-quantized checkpoint")
    build.add_argument("--model", help="Hugging Face id (e.g. nvidia/Qwen3-32B-NVFP4) or a local checkpoint folder")
    build.add_argument("--variant", help="catalog variant, e.g. qwen3-32b/tp4 (model, revision, TP and limits)")
    build.add_argument("--revision", help="commit to pin a Hub download to")
    build.add_argument("--tp", type=int, help="tensor parallel size")
    build.add_argument("--pp", type=int, default=None, help="pipeline parallel size (default 1)")
    build.add_argument("--out", type=Path, required=True, help="engine folder to write")
    build.add_argument("--max-batch-size", type=int)
    build.add_argument("--max-seq-len", type=int)
    build.add_argument("--max-num-tokens", type=int)
    build.add_argument(
        "--quant",
        choices=("NVFP4", "FP8", "BF16"),
        help="the checkpoint's quantization, checked before building (default: the variant's; never re-quantizes)",
    )
    build.add_argument(
        "--gather-context-logits",
        action="store_true",
        help="return the prompt's logits (echo + logprobs, lm-eval loglikelihood tasks); costs fp32 "
        "max_num_tokens x vocab of GPU memory (docs/evaluation.md)",
    )
    build.add_argument(
        "--gather-generation-logits", action="store_true", help="return each generated token's logits (top logprobs)"
    )
    build.add_argument("--strategy", choices=("checkpoint", "bench"), default="checkpoint")
    build.add_argument(
        "--gpu-arch",
        help="the GPU architecture the engine is for (sm100, sm103, sm120, sm121): a GPU of another one is refused",
    )
    build.add_argument(
        "--provenance",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="where the checkpoint came from (hf_id=, revision=, weights_hash=), recorded in build-info.json",
    )
    build.add_argument("--skip-preflight", action="store_true", help="build on a machine without the target GPUs")
    build.add_argument("--force", action="store_true", help="replace a non-empty --out")
    build.add_argument("--timeout", type=float, default=4 * 3600.0, help="seconds without a complete engine")
    build.add_argument(
        "--runtime", type=Path, help="unpacked image root: convert and run trtllm-build inside it (bubblewrap)"
    )
    build.add_argument("--bwrap", help="bubblewrap binary for --runtime (default: bwrap on PATH)")
    build.add_argument("--bind", type=Path, action="append", default=[], help="a folder visible inside --runtime")
    build.add_argument(
        "--runtime-env", action="append", default=[], metavar="NAME=VALUE", help="a variable set inside --runtime"
    )
    build.add_argument(
        "--work-dir", type=Path, help="staging and build log (default: beside --out; $TMPDIR if --out is in /nix/store)"
    )
    build.set_defaults(handler=run_build)

    check = actions.add_parser("check", help="verify an engine folder; exit 0 only when every check holds")
    check.add_argument("engine", type=Path)
    check.add_argument("--quant", help="expected quant_algo (default: what build-info.json recorded)")
    check.add_argument("--tp", type=int)
    check.add_argument("--pp", type=int)
    check.set_defaults(handler=run_check)

    tokenizer = actions.add_parser("tokenizer", help="download only a model's tokenizer files (for the proxy)")
    tokenizer.add_argument("--model", required=True)
    tokenizer.add_argument("--revision")
    tokenizer.add_argument("--out", type=Path, required=True)
    tokenizer.set_defaults(handler=run_tokenizer)


def run_build(args: argparse.Namespace) -> int:
    from trtllm_nix.catalog import variant
    from trtllm_nix.engine.build import BuildRequest, build_engine
    from trtllm_nix.engine.seam import BuildLimits
    from trtllm_nix.errors import UserError

    chosen = variant(args.variant) if args.variant else None
    model = args.model or (chosen.hf_id if chosen else None)
    tp = args.tp or (chosen.tp if chosen else None)
    if model is None or tp is None:
        raise UserError("pass --model and --tp, or --variant (e.g. qwen3-32b/tp4)")
    base = chosen.limits if chosen else BuildLimits(8, 16384, 8192)
    limits = BuildLimits(
        args.max_batch_size or base.max_batch_size,
        args.max_seq_len or base.max_seq_len,
        args.max_num_tokens or base.max_num_tokens,
        args.gather_context_logits or base.gather_context_logits,
        args.gather_generation_logits or base.gather_generation_logits,
    )
    runtime = None
    if args.runtime is not None:
        from trtllm_nix.runtime.seam import RuntimeSpec

        bad = [item for item in args.runtime_env if "=" not in item]
        if bad:
            raise UserError(f"--runtime-env takes NAME=VALUE, got {bad[0]!r}")
        env = tuple(tuple(item.split("=", 1)) for item in args.runtime_env)
        runtime = RuntimeSpec(args.runtime, args.bwrap, tuple(p.resolve() for p in args.bind), env)
    bad = [item for item in args.provenance if "=" not in item]
    if bad:
        raise UserError(f"--provenance takes KEY=VALUE, got {bad[0]!r}")
    if args.gpu_arch is not None and not re.fullmatch(r"sm\d{2,3}", args.gpu_arch):
        raise UserError(f"--gpu-arch takes smNN or smNNN (e.g. sm100), got {args.gpu_arch!r}")
    if args.strategy == "bench" and (limits.gather_context_logits or limits.gather_generation_logits):
        raise UserError("--gather-context-logits / --gather-generation-logits need --strategy checkpoint")
    request = BuildRequest(
        model=model,
        out=args.out,
        tp=tp,
        pp=args.pp or (chosen.pp if chosen else 1),
        limits=limits,
        revision=args.revision or (chosen.revision if chosen and not args.model else None),
        strategy=args.strategy,
        quant=args.quant or (chosen.quant if chosen else None),
        skip_preflight=args.skip_preflight,
        force=args.force,
        timeout=args.timeout,
        work_dir=args.work_dir,
        runtime=runtime,
        gpu_arch=args.gpu_arch,
        provenance=dict(item.split("=", 1) for item in args.provenance),
    )
    out = build_engine(request)
    print(f"engine written to {out}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from trtllm_nix.engine.check import check_engine

    findings = check_engine(args.engine, args.quant, args.tp, args.pp)
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else 1


def run_tokenizer(args: argparse.Namespace) -> int:
    from trtllm_nix.engine.download import TOKENIZER_PATTERNS, copy_tokenizer, resolve_model

    source = resolve_model(args.model, args.revision, TOKENIZER_PATTERNS)
    copied = copy_tokenizer(source, args.out)
    print(f"{', '.join(copied)} -> {args.out}")
    return 0
