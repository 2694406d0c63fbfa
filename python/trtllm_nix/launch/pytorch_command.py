"""``trtllm-nix serve-pytorch``: the PyTorch lane's server, ``trtllm-serve MODEL --grpc`` at TP 1/2/4, inside the
TensorRT-LLM release image (``--runtime``) or with a ``trtllm-serve`` on PATH. No engine build: MODEL is the
checkpoint folder as downloaded. The proxy reaches it with ``--upstream grpc-trtllm://HOST:PORT``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from trtllm_nix.catalog import ports
from trtllm_nix.launch.pytorch_plan import GUIDED_DECODING, WORKER_LAUNCHES


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve-pytorch",
        help="start trtllm-serve --grpc (the PyTorch lane; no engine build)",
        description=f"{__doc__} Exit codes: 0 after a requested stop, 10 when trtllm-serve died, 2-4 for setup errors.",
    )
    parser.add_argument("--model", type=Path, required=True, help="checkpoint folder (config.json, weights, tokenizer)")
    parser.add_argument("--tp", type=int, default=1, help="tensor parallelism: 1, 2 or 4 GPUs (default 1)")
    parser.add_argument("--gpus", help="comma-separated GPU indices, as many as --tp (default 0..TP-1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=ports()["trtllm_serve_grpc"], help="gRPC port")
    parser.add_argument("--max-seq-len", type=int, help="trtllm-serve --max_seq_len (default: the model's)")
    parser.add_argument("--extra-llm-api-options", type=Path, help="YAML for trtllm-serve's LLM API options")
    parser.add_argument(
        "--guided-decoding",
        choices=GUIDED_DECODING,
        default="xgrammar",
        help="trtllm-serve's guided decoding backend (default xgrammar, added to the options file unless it sets "
        "guided_decoding_backend itself); the proxy then takes grpc-trtllm://...?guided_decoding=xgrammar",
    )
    parser.add_argument(
        "--workers",
        choices=WORKER_LAUNCHES,
        default="spawn",
        help="how TP workers start: trtllm-serve spawns them itself (default), or mpirun -n TP trtllm-llmapi-launch",
    )
    parser.add_argument("--runtime", type=Path, help="the TensorRT-LLM release image (root, or nix build output)")
    parser.add_argument("--bwrap", help="bubblewrap binary for --runtime (default: bwrap on PATH)")
    parser.add_argument("--bind", type=Path, action="append", default=[], help="a folder visible inside --runtime")
    parser.add_argument("--trtllm-serve", help="the trtllm-serve program (default: trtllm-serve on the PATH inside)")
    parser.add_argument("--run-dir", type=Path, help="its log and private TMPDIR (default: a new folder)")
    parser.add_argument("--ready-timeout", type=float, default=1800.0, help="seconds to load (default 1800)")
    parser.add_argument(
        "--exit-timeout", type=float, default=30.0, help="seconds after SIGTERM before it is ended (default 30)"
    )
    parser.add_argument("--print-command", action="store_true", help="print the command and environment, then exit")
    parser.add_argument("serve_args", nargs=argparse.REMAINDER, help="after --: more trtllm-serve arguments")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from trtllm_nix.errors import UserError
    from trtllm_nix.gpus import read_inventory
    from trtllm_nix.launch.plan import default_run_dir, parse_gpus
    from trtllm_nix.launch.pytorch_plan import OPTIONS_FILE, PytorchRequest, llm_api_options, plan_pytorch
    from trtllm_nix.launch.pytorch_server import TrtllmServe

    model = args.model.resolve()
    if not (model / "config.json").is_file():
        raise UserError(
            f"--model {args.model} holds no config.json: give the checkpoint folder (nix build .#...-weights)"
        )
    gpus = parse_gpus(args.gpus)
    run_dir = default_run_dir(args.run_dir, "trtllm-serve")
    config = args.extra_llm_api_options.resolve() if args.extra_llm_api_options else None
    try:
        given = config.read_text("utf-8") if config is not None else None
    except OSError as error:
        raise UserError(f"--extra-llm-api-options {args.extra_llm_api_options}: {error.strerror}") from error
    options = llm_api_options(args.guided_decoding, given)
    if options is not None:  # written into the run folder, which the runtime binds
        run_dir.mkdir(parents=True, exist_ok=True)
        config = run_dir / OPTIONS_FILE
        config.write_text(options, "utf-8")
    request = PytorchRequest(
        model=model,
        tp=args.tp,
        run_dir=run_dir,
        trtllm_serve=(args.trtllm_serve or "trtllm-serve",),
        gpus=gpus,
        host=args.host,
        port=args.port,
        max_seq_len=args.max_seq_len,
        config=config,
        workers=args.workers,
        is_root=os.geteuid() == 0,
        extra_args=tuple(args.serve_args[1:] if args.serve_args[:1] == ["--"] else args.serve_args),
    )
    launch = plan_pytorch(request, dict(os.environ), read_inventory() if args.tp > 1 else None)
    if args.runtime is not None:
        from trtllm_nix.runtime.entry import Sandbox
        from trtllm_nix.runtime.launch import inside

        folders = [model, run_dir, *(p.resolve() for p in args.bind), *([config.parent] if config else [])]
        binds = tuple(dict.fromkeys(p for p in folders if not p.is_relative_to("/nix/store")))
        run_dir.mkdir(parents=True, exist_ok=True)
        launch = inside(launch, Sandbox.open(args.runtime, args.bwrap, binds))
    if args.print_command:
        print(f"# {launch.nccl_reason}\n{launch.shell()}")
        return 0
    server = TrtllmServe(launch, run_dir, args.host, args.port, args.exit_timeout)
    server.handle_signals()
    print(
        f"starting trtllm-serve --grpc, TP {args.tp} on GPU(s) {launch.environment['CUDA_VISIBLE_DEVICES']} "
        f"({launch.nccl_reason}; workers: {args.workers}); log in {server.log}",
        flush=True,
    )
    server.start()
    if not server.wait_ready(args.ready_timeout):
        return 0  # stopped while loading, as asked
    print(f"ready: gRPC {args.host}:{args.port} (trtllm.TrtllmService)", flush=True)
    return server.supervise()
