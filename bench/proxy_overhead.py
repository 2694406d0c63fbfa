"""How much do our layers cost? The real tritonserver with the scripted reference backend (no per-token delay, so
the backend is as fast as it gets), measured on one machine in one run along four paths:
(a) direct gRPC to tensorrt_llm (the limit), (b) Triton's HTTP generate_stream on the ensemble, (c) our proxy
streaming chat completions, (d) our proxy non-streaming. Load from our asyncio clients and, for (c) and (d), from
AIPerf. Prints a markdown table of ratios to (a) last; saves bench/results/latest.json and a PNG chart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, Sample, direct_grpc, proxy_chat, triton_generate_stream
from proxy_process import start_proxy_process
from stats import machine, summarize
from trtllm_nix.llm.model_files import ChatTemplate, ModelFiles
from trtllm_nix.llm.triton_client import TritonUpstream
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

ROOT = Path(__file__).resolve().parent.parent
REPLY = "#reply: " + " ".join(f"word{i % 50}" for i in range(400))
PATHS = {"a": "direct gRPC", "b": "Triton generate_stream", "c": "proxy stream", "d": "proxy non-stream"}


async def load(make: Client, concurrency: int, requests: int) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                samples.append(await make())
            except Exception as error:  # a failed request is counted, never hidden
                samples.append(Sample(time.perf_counter(), error=str(error)))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_path(path: str, concurrency: int, requests: int, ctx: dict[str, Any]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        upstream = TritonUpstream(ctx["grpc"])
        makers = {
            "a": lambda: direct_grpc(upstream, ctx["ids"], ctx["tokens"]),
            "b": lambda: triton_generate_stream(
                client, ctx["generate_stream"], ctx["prompt"], ctx["tokens"], ctx["count"]
            ),
            "c": lambda: proxy_chat(client, ctx["chat"], ctx["messages"], ctx["tokens"], stream=True),
            "d": lambda: proxy_chat(client, ctx["chat"], ctx["messages"], ctx["tokens"], stream=False),
        }
        cpu_before = cpu_seconds(ctx["proxy_pid"])
        samples, wall = await load(makers[path](), concurrency, requests)
        cpu = cpu_seconds(ctx["proxy_pid"]) - cpu_before
        await upstream.close()
    result = summarize(samples, wall)
    if path in "cd":
        result["proxy_cpu_us_per_token"] = 1e6 * cpu / max(result["tokens"], 1)
    return result


def run_aiperf(concurrency: int, requests: int, stream: bool, ctx: dict[str, Any], out: Path) -> dict[str, Any] | None:
    aiperf = ROOT / ".venv-bench" / "bin" / "aiperf"
    if not aiperf.exists():
        return None
    artifacts = out / f"aiperf-{'stream' if stream else 'nostream'}-c{concurrency}"
    command = [
        str(aiperf),
        "profile",
        "--model",
        "qwen3",
        "--url",
        ctx["proxy_url"],
        "--endpoint-type",
        "chat",
        "--tokenizer",
        str(ctx["tokenizer"]),
        "--synthetic-input-tokens-mean",
        "64",
        "--output-tokens-mean",
        str(ctx["tokens"]),
        "--output-tokens-stddev",
        "0",
        "--extra-inputs",
        "ignore_eos:true",
        "--concurrency",
        str(concurrency),
        "--request-count",
        str(requests),
        "--random-seed",
        "1",
        "--ui-type",
        "none",
        "--artifact-dir",
        str(artifacts),
        "--use-server-token-count",
    ]
    if stream:
        command.append("--streaming")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    exports = list(artifacts.rglob("profile_export_aiperf.json"))
    if done.returncode != 0 or not exports:
        return {"error": (done.stderr or done.stdout)[-500:]}
    data = json.loads(exports[0].read_text())

    def metric(name: str, stat: str) -> float | None:
        value = data.get(name, {})
        return value.get(stat) if isinstance(value, dict) else None

    return {
        "tokens_per_s": metric("output_token_throughput", "avg"),
        "ttft_p50_ms": metric("time_to_first_token", "p50"),
        "ttft_p99_ms": metric("time_to_first_token", "p99"),
        "itl_p50_ms": metric("inter_token_latency", "p50"),
        "itl_p99_ms": metric("inter_token_latency", "p99"),
        "requests": metric("request_count", "avg"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", default="1,16,64,128")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--requests-per-worker", type=int, default=2)
    parser.add_argument("--min-requests", type=int, default=24)
    parser.add_argument("--no-aiperf", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    assets = ensure_assets(ROOT / ".cache" / "trtllm-nix")
    files = ModelFiles.load(assets.tokenizer)
    messages = [{"role": "user", "content": REPLY}]
    prompt = ChatTemplate(files.chat_template or "").render(messages, None)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    repo = write_reference_repository(work / "repo", "scripted", assets.tokenizer, max_batch_size=256)
    with TritonServer(TritonRuntime.from_wheel(), repo, work / "triton") as triton:
        proxy, proxy_url = start_proxy_process(
            triton.grpc_url, assets.tokenizer, "--max-in-flight", "4096", "--reasoning-parser", "none"
        )
        ctx = {
            "grpc": triton.grpc_url,
            "ids": files.encode(prompt),
            "prompt": prompt,
            "messages": messages,
            "tokens": args.tokens,
            "count": lambda text: len(files.encode(text)),
            "generate_stream": f"{triton.http_url}/v2/models/ensemble/generate_stream",
            "chat": proxy_url + "/v1/chat/completions",
            "proxy_pid": proxy.pid,
            "proxy_url": proxy_url,
            "tokenizer": assets.tokenizer,
        }
        results: dict[str, Any] = {"machine": machine(), "tokens_per_request": args.tokens, "runs": {}}
        try:
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                requests = max(args.min_requests, concurrency * args.requests_per_worker)
                for path in "abcd":
                    asyncio.run(run_path(path, min(concurrency, 4), 4, ctx))  # warm-up
                    result = asyncio.run(run_path(path, concurrency, requests, ctx))
                    results["runs"][f"{path}_c{concurrency}"] = result
                    print(
                        f"c={concurrency:<4} {PATHS[path]:<24} {result['tokens_per_s']:9.0f} tok/s "
                        f"ttft p50 {result['ttft_p50_ms']:7.1f} ms  itl p50 {result['itl_p50_ms']:6.2f} ms"
                        + (
                            f"  proxy {result['proxy_cpu_us_per_token']:.0f} us/token"
                            if "proxy_cpu_us_per_token" in result
                            else ""
                        ),
                        flush=True,
                    )
                if not args.no_aiperf:
                    for stream in (True, False):
                        key = f"aiperf_{'c' if stream else 'd'}_c{concurrency}"
                        results["runs"][key] = run_aiperf(concurrency, requests, stream, ctx, work)
        finally:
            proxy.terminate()
            proxy.wait(30)
    from report import ratios, table

    results["ratios"] = ratios(results["runs"])
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    chart = ROOT / ".venv-bench" / "bin" / "python"
    if chart.exists():
        subprocess.run(
            [
                str(chart),
                str(Path(__file__).parent / "plot.py"),
                str(args.out / "latest.json"),
                str(args.out / "latest.png"),
            ],
            check=False,
        )
    print("\n" + table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
