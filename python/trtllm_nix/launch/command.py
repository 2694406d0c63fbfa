"""``trtllm-nix serve``: start Triton for a model repository made by ``repo generate``."""

from __future__ import annotations

import argparse
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from trtllm_nix.catalog import ports
from trtllm_nix.reexec import module_command

RANK_INSIDE = ("python3", "-m", "trtllm_nix.launch.rank")  # the image's Python; the entry sets PYTHONPATH


def register(commands: Any) -> None:
    defaults = ports()
    parser = commands.add_parser(
        "serve",
        help="start tritonserver (one rank per GPU under mpirun)",
        description="Exit codes: 0 after a requested stop, 10+N when rank N died, 2-4 for setup errors.",
    )
    parser.add_argument("--repo", type=Path, required=True, help="model repository (with manifest.json)")
    parser.add_argument("--gpus", help="comma-separated GPU indices, as many as the engine's TP x PP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=defaults["triton_http"])
    parser.add_argument("--grpc-port", type=int, default=defaults["triton_grpc"])
    parser.add_argument("--metrics-port", type=int, default=defaults["triton_metrics"])
    parser.add_argument("--tritonserver", help="tritonserver binary (default: on PATH, else the nvidia-pytriton wheel)")
    parser.add_argument("--runtime", type=Path, help="unpacked image root: run tritonserver and mpirun inside it")
    parser.add_argument("--bwrap", help="bubblewrap binary for --runtime (default: bwrap on PATH)")
    parser.add_argument("--bind", type=Path, action="append", default=[], help="a folder visible inside --runtime")
    parser.add_argument("--hostfile", type=Path, help="Open MPI hostfile for several nodes")
    parser.add_argument("--run-dir", type=Path, help="per-rank logs and the private TMPDIR (default: a new folder)")
    parser.add_argument("--ready-timeout", type=float, default=1800.0)
    parser.add_argument("--print-command", action="store_true", help="print the command and environment, then exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from trtllm_nix.gpus import read_inventory
    from trtllm_nix.launch.plan import LaunchRequest, default_run_dir, parse_gpus, plan_launch
    from trtllm_nix.launch.runner import RunningServer
    from trtllm_nix.repo.generate import read_manifest
    from trtllm_nix.triton.runtime import TritonRuntime

    manifest = read_manifest(args.repo)
    gpus = parse_gpus(args.gpus)
    run_dir = default_run_dir(args.run_dir, "trtllm-nix")
    binary = args.tritonserver or shutil.which("tritonserver")
    base_env = dict(os.environ)
    backend_dir = None
    sandbox = None
    if args.runtime is not None:
        from trtllm_nix.runtime.launch import BACKENDS_INSIDE, TRITONSERVER_INSIDE, open_sandbox

        binds = (args.repo.resolve(), run_dir, *args.bind, *([args.hostfile.resolve().parent] if args.hostfile else []))
        sandbox = open_sandbox(args.runtime, args.bwrap, binds)
        binary, backend_dir = args.tritonserver or TRITONSERVER_INSIDE, BACKENDS_INSIDE
    elif binary is None:
        runtime = TritonRuntime.from_wheel()
        binary = str(runtime.binary)
        backend_dir = runtime.prepare_backend_dir(run_dir / "backends")
        base_env = runtime.environment(base_env)
    request = LaunchRequest(
        repository=args.repo.resolve(),
        world_size=int(manifest["world_size"]),
        generator_model=manifest.get("generator_model", "tensorrt_llm"),
        tritonserver=binary,
        run_dir=run_dir,
        gpus=gpus,
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        hostfile=args.hostfile,
        backend_directory=backend_dir,
        is_root=os.geteuid() == 0,
        launch_id=uuid.uuid4().hex[:8],
        rank_python=RANK_INSIDE if sandbox is not None else tuple(module_command("trtllm_nix.launch.rank")),
    )
    launch = plan_launch(request, base_env, read_inventory() if request.world_size > 1 else None)
    if sandbox is not None:
        from trtllm_nix.runtime.launch import inside

        run_dir.mkdir(parents=True, exist_ok=True)
        launch = inside(launch, sandbox)
    if args.print_command:
        print(f"# {launch.nccl_reason}\n{launch.shell()}")
        return 0
    server = RunningServer(
        launch,
        run_dir,
        request.world_size,
        f"http://{args.host}:{args.http_port}/v2/health/ready",
        request.exit_timeout,
    )
    print(
        f"starting {request.world_size} rank(s) on GPU(s) {launch.environment['CUDA_VISIBLE_DEVICES']} "
        f"({launch.nccl_reason}); logs in {run_dir}",
        flush=True,
    )
    server.start()
    server.wait_ready(args.ready_timeout)
    print(
        f"ready: HTTP http://{args.host}:{args.http_port}, gRPC {args.host}:{args.grpc_port}, "
        f"metrics http://{args.host}:{args.metrics_port}/metrics",
        flush=True,
    )
    return server.supervise()
