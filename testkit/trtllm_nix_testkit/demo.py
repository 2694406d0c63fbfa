"""The body of ``trtllm-nix demo`` (the product keeps its options, ``trtllm_nix.demo``): the whole stack on a
laptop, no GPU: real tritonserver, the reference backend, the OpenAI proxy."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from trtllm_nix.demo import QUESTION, SERVED_NAMES
from trtllm_nix.errors import SetupError

if TYPE_CHECKING:
    from trtllm_nix.proxy.settings import ProxySettings

    from trtllm_nix_testkit.assets.build import Assets


def run(args: argparse.Namespace) -> int:
    from trtllm_nix.triton.ports import port_is_free

    from trtllm_nix_testkit.assets.build import default_cache_dir, ensure_assets

    if not port_is_free(args.port, args.host):
        raise SetupError(f"port {args.port} on {args.host} is taken; pass --port with a free one")
    assets = ensure_assets()
    label = args.backend if args.lane == "engine" else f"{args.backend}-pytorch"
    workdir = _own_workdir(default_cache_dir() / "demo", label)
    try:
        return _serve(args, assets, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _own_workdir(parent: Path, backend: str) -> Path:
    """A work folder of this run alone (``BACKEND-PID``): two demos of one backend never share or delete each
    other's repository; folders of demos that died without cleaning up (killed) are removed."""
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob("*-*"):
        pid = stale.name.rpartition("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    workdir = parent / f"{backend}-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)  # a dead run's, under a reused pid
    workdir.mkdir()
    return workdir


def _serve(args: argparse.Namespace, assets: Assets, workdir: Path) -> int:
    from trtllm_nix.proxy.settings import ProxySettings
    from trtllm_nix.triton.runtime import TritonRuntime

    from trtllm_nix_testkit.repository import write_reference_repository
    from trtllm_nix_testkit.triton_server import TritonServer

    model = args.model or ("qwen3-tiny" if args.backend == "scripted" else "smollm2")
    model_dir, tokenizer_dir = {
        "smollm2": (assets.real.smollm2, assets.real.smollm2),
        "smollm2-nvfp4": (assets.real.nvfp4, assets.real.nvfp4),
        "qwen3-tiny": (assets.tiny_model, assets.tokenizer),
    }[model]
    served = SERVED_NAMES[model]
    from trtllm_nix.repo.tokenizer_info import guided_decoding_possible

    guided = guided_decoding_possible(tokenizer_dir)  # structured outputs where the tokenizer allows them
    if args.lane == "pytorch":
        return _pytorch_lane(args, workdir, model, model_dir, tokenizer_dir, guided)
    repo = write_reference_repository(
        workdir / "repo",
        args.backend,
        tokenizer_dir,
        model_dir,
        guided_decoding=guided,
        max_seq_len=_context(args.backend, model_dir),
    )
    triton = TritonServer(TritonRuntime.from_wheel(), repo, workdir / "triton")
    print(f"starting tritonserver (reference backend, {args.backend}, {model}) ...", flush=True)
    with triton:
        print(f"tritonserver ready: HTTP {triton.http_url}, gRPC {triton.grpc_url}", flush=True)
        settings = ProxySettings(
            tokenizer=tokenizer_dir,
            triton=triton.grpc_url,
            model_name=served,
            host=args.host,
            port=args.port,
            model_repository=repo,  # its tensorrt_llm config turns guided decoding on (structured outputs)
        )
        _serve_proxy(args, settings, served)
    print("stopped", flush=True)
    return 0


def _serve_proxy(args: argparse.Namespace, settings: ProxySettings, served: str) -> None:
    import uvicorn
    from trtllm_nix.proxy.app import create_app
    from trtllm_nix.proxy.http_limits import PROTOCOL

    base = f"http://{args.host}:{args.port}"
    prompt = "#reply: Hello from trtllm-nix!" if args.backend == "scripted" else QUESTION
    print(
        "\nOpenAI-compatible API ready. Try:\n"
        f"  curl -s {base}/v1/chat/completions -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"model": "{served}", "messages": [{{"role": "user", "content": "{prompt}"}}], '
        '"max_tokens": 32}\'\n'
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", http=PROTOCOL)


def _pytorch_lane(
    args: argparse.Namespace, workdir: Path, model: str, model_dir: Path, tokenizer_dir: Path, guided: bool
) -> int:
    """The reference TrtllmService in this process (the stand-in for trtllm-serve --grpc), the proxy in front."""
    from trtllm_nix.llm.upstream_address import UpstreamAddress
    from trtllm_nix.proxy.settings import ProxySettings
    from trtllm_nix.repo.tokenizer_info import TOKENIZER_INFO_FILE, tokenizer_info_text

    from trtllm_nix_testkit.reference.trtllm_server import ReferenceModel, TrtllmServiceThread

    info = workdir / TOKENIZER_INFO_FILE
    if guided:
        info.write_text(tokenizer_info_text(tokenizer_dir), "utf-8")
    served = SERVED_NAMES[model]
    reference = ReferenceModel(
        backend=args.backend,
        tokenizer_dir=tokenizer_dir,
        max_seq_len=_context(args.backend, model_dir),
        model_id=served,
        model_dir=model_dir if args.backend == "hf" else None,
        guided_decoding=info if guided else None,
    )
    print(f"starting the reference TrtllmService ({args.backend}, {model}) ...", flush=True)
    with TrtllmServiceThread(reference) as server:
        print(f"TrtllmService ready: grpc-trtllm://{server.target}", flush=True)
        settings = ProxySettings(
            tokenizer=tokenizer_dir,
            model_name=served,
            host=args.host,
            port=args.port,
            upstream=UpstreamAddress((server.target,), guided_decoding=guided),
        )
        _serve_proxy(args, settings, served)
    print("stopped", flush=True)
    return 0


def _context(backend: str, model_dir: Path) -> int:
    """The context the demo serves: scripted, the Qwen3-32B TP1 engine it stands for (catalog), so clients that send
    long prompts (OpenWebUI's built-in tools, about 6600 tokens) are answered; hf, what the model's positions hold."""
    from trtllm_nix.catalog import variant

    if backend == "scripted":
        return variant("qwen3-32b/tp1").limits.max_seq_len
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    return int(config["max_position_embeddings"])
