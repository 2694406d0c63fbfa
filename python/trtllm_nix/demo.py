"""``trtllm-nix demo``: the whole stack on a laptop, no GPU: real tritonserver, reference backend, OpenAI proxy."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from trtllm_nix.errors import SetupError

DEMO_MODEL = "qwen3"


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run Triton (reference backend) and the OpenAI proxy on this machine")
    parser.add_argument(
        "--backend",
        choices=("hf", "scripted"),
        default="hf",
        help="hf: the tiny Qwen3 with PyTorch; scripted: replays '#reply:' text from the prompt",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="proxy port")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from trtllm_nix.assets.build import default_cache_dir, ensure_assets
    from trtllm_nix.proxy.app import create_app
    from trtllm_nix.proxy.settings import ProxySettings
    from trtllm_nix.repo.reference import write_reference_repository
    from trtllm_nix.triton.ports import port_is_free
    from trtllm_nix.triton.runtime import TritonRuntime
    from trtllm_nix.triton.server import TritonServer

    if not port_is_free(args.port, args.host):
        raise SetupError(f"port {args.port} on {args.host} is taken; pass --port with a free one")
    assets = ensure_assets()
    workdir = default_cache_dir() / "demo" / args.backend
    if workdir.exists():
        shutil.rmtree(workdir)
    repo = write_reference_repository(workdir / "repo", args.backend, assets.tokenizer, assets.tiny_model)
    triton = TritonServer(TritonRuntime.from_wheel(), repo, workdir / "triton")
    print(f"starting tritonserver (reference backend, {args.backend}) ...", flush=True)
    with triton:
        print(f"tritonserver ready: HTTP {triton.http_url}, gRPC {triton.grpc_url}", flush=True)
        settings = ProxySettings(
            tokenizer=assets.tokenizer, triton=triton.grpc_url, model_name=DEMO_MODEL, host=args.host, port=args.port
        )
        base = f"http://{args.host}:{args.port}"
        prompt = "#reply: Hello from trtllm-nix!" if args.backend == "scripted" else "Hello!"
        print(
            "\nOpenAI-compatible API ready. Try:\n"
            f"  curl -s {base}/v1/chat/completions -H 'Content-Type: application/json' \\\n"
            f'    -d \'{{"model": "{DEMO_MODEL}", "messages": [{{"role": "user", "content": "{prompt}"}}], '
            '"max_tokens": 32}\'\n'
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    print("stopped", flush=True)
    return 0
