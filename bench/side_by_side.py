"""Side by side, one run, one Triton, one backend: the front ends a user would run in front of `tensorrt_llm`.

The real tritonserver with the scripted reference backend (no per-token delay) serves every path:
  direct         our asyncio gRPC client straight to tensorrt_llm (token ids in and out): the limit;
  triton         Triton's own HTTP generate_stream on the ensemble (the seed's curl path);
  proxy          our proxy (`trtllm-nix proxy`), streaming and not;
  peer           the seed's proxy (--peer-proxy PATH, see bench/README.md), streaming and not.
Every path gets the same asyncio load client (one process), the OpenAI front ends also AIPerf (multi-process),
at each concurrency. CPU per token of each front end is read from /proc (the process and its workers). With
--workers (when `trtllm-nix proxy --workers` exists) our proxy is also run with 1, 2, 4, 8 workers under AIPerf.
Prints the table last; writes bench/results/latest.json (stable keys under "ratios") and latest.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, Sample, direct_grpc, triton_generate_stream
from frontends import (
    openai_chat,
    process_tree_cpu_seconds,
    proxy_has_workers,
    start_our_proxy,
    start_peer_proxy,
)
from side_by_side_report import key_ratios, table
from stats import machine, summarize
from trtllm_nix.llm.model_files import ChatTemplate, ModelFiles
from trtllm_nix.llm.triton_client import TritonUpstream
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

ROOT = Path(__file__).resolve().parent.parent
REPLY = "#reply: " + " ".join(f"word{i % 50}" for i in range(600))


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
                samples.append(Sample(time.perf_counter(), error=f"{type(error).__name__}: {error}"))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.perf_counter() - started


def maker(path: str, client: httpx.AsyncClient, upstream: TritonUpstream, ctx: dict[str, Any]) -> Client:
    if path == "direct":
        return direct_grpc(upstream, ctx["ids"], ctx["tokens"])
    if path == "triton":
        return triton_generate_stream(client, ctx["generate_stream"], ctx["prompt"], ctx["tokens"], ctx["count"])
    front, _, mode = path.partition("_")
    url = ctx["urls"][front] + "/v1/chat/completions"
    return openai_chat(client, url, ctx["messages"], ctx["tokens"], mode == "stream", ctx["count"])


def measured(pids: dict[str, int], run: Callable[[], tuple[list[Sample], float]]) -> dict[str, Any]:
    before = {name: process_tree_cpu_seconds(pid) for name, pid in pids.items()}
    samples, wall = run()
    after = {name: process_tree_cpu_seconds(pid) for name, pid in pids.items()}
    result = summarize(samples, wall)
    tokens = max(result["tokens"], 1)
    result["cpu_us_per_token"] = {name: 1e6 * (after[name] - before[name]) / tokens for name in pids}
    errors = [s.error for s in samples if s.error]
    if errors:
        result["first_error"] = errors[0][:300]
        result["error_kinds"] = dict(Counter(error[:120] for error in errors).most_common(5))
    return result


def run_ours(path: str, concurrency: int, requests: int, ctx: dict[str, Any]) -> dict[str, Any]:
    async def go() -> tuple[list[Sample], float]:
        limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
        async with httpx.AsyncClient(timeout=600, limits=limits) as client:
            upstream = TritonUpstream(ctx["grpc"])
            try:
                return await load(maker(path, client, upstream, ctx), concurrency, requests)
            finally:
                await upstream.close()

    asyncio.run(_warm(path, ctx))
    procs = min(ctx["client_processes"], concurrency)
    if procs <= 1:
        return measured(ctx["pids"], lambda: asyncio.run(go()))
    shares = [(concurrency * (i + 1) // procs - concurrency * i // procs) for i in range(procs)]
    loads = [(path, share, max(1, round(requests * share / concurrency)), ctx["urls"]) for share in shares]
    return measured(ctx["pids"], lambda: _in_processes(loads, ctx))


_SHARED: dict[str, Any] = {}
_POOL: list[Any] = []  # the client processes, started once (spawned: no gRPC state crosses a fork)


def _start_child(ctx: dict[str, Any]) -> None:
    files = ModelFiles.load(ctx["tokenizer"])
    _SHARED.update(ctx, count=lambda text: len(files.encode(text)))


Share = tuple[str, int, int, dict[str, str]]  # path, concurrency, requests, the front ends' URLs of this stage


def _one_share(job: Share) -> tuple[list[Sample], float]:
    path, concurrency, requests, urls = job
    ctx = {**_SHARED, "urls": urls}  # the pool outlives a stage's proxy (the workers stage starts new ones)

    async def go() -> tuple[list[Sample], float]:
        limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
        async with httpx.AsyncClient(timeout=600, limits=limits) as client:
            upstream = TritonUpstream(ctx["grpc"])
            try:
                return await load(maker(path, client, upstream, ctx), concurrency, requests)
            finally:
                await upstream.close()

    return asyncio.run(go())


def _in_processes(loads: list[Share], ctx: dict[str, Any]) -> tuple[list[Sample], float]:
    """The load split over several client processes, so that on a machine with cores to spare the load client is
    not the bottleneck. Wall time: from handing out the shares until the last process is done."""
    if not _POOL:
        picklable = {k: v for k, v in ctx.items() if k != "count"}
        spawn = multiprocessing.get_context("spawn")
        _POOL.append(spawn.Pool(ctx["client_processes"], initializer=_start_child, initargs=(picklable,)))
        _POOL[0].map(_one_share, [(loads[0][0], 1, 1, ctx["urls"])] * ctx["client_processes"])  # started, warm
    pool = _POOL[0]
    started = time.perf_counter()
    parts = pool.map(_one_share, loads, chunksize=1)
    wall = time.perf_counter() - started
    return [sample for samples, _ in parts for sample in samples], wall


def close_client_pool() -> None:
    for pool in _POOL:
        pool.terminate()
        pool.join()
    _POOL.clear()


async def _warm(path: str, ctx: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=600) as client:
        upstream = TritonUpstream(ctx["grpc"])
        await load(maker(path, client, upstream, ctx), 2, 2)
        await upstream.close()


def run_aiperf(front: str, stream: bool, concurrency: int, requests: int, ctx: dict[str, Any]) -> dict[str, Any]:
    aiperf = ROOT / ".venv-bench" / "bin" / "aiperf"
    artifacts = ctx["work"] / f"aiperf-{front}-{'stream' if stream else 'nostream'}-c{concurrency}"
    command = [str(aiperf), "profile", "--model", "qwen3", "--url", ctx["urls"][front], "--endpoint-type", "chat"]
    command += ["--tokenizer", str(ctx["tokenizer"]), "--input-file", str(ctx["aiperf_input"])]
    command += ["--custom-dataset-type", "single_turn", "--output-tokens-mean", str(ctx["tokens"])]
    command += ["--output-tokens-stddev", "0", "--extra-inputs", "ignore_eos:true", "--extra-inputs", "temperature:0"]
    command += ["--concurrency", str(concurrency), "--request-count", str(requests), "--random-seed", "1"]
    command += ["--ui-type", "none", "--artifact-dir", str(artifacts)]
    if stream:
        command.append("--streaming")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}

    def go() -> tuple[list[Sample], float]:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
        ctx["aiperf_status"] = (done.returncode, (done.stderr or done.stdout)[-800:])
        return [], 0.0

    result = measured(ctx["pids"], go)
    code, tail = ctx.pop("aiperf_status")
    exports = list(artifacts.rglob("profile_export_aiperf.json"))
    if code != 0 or not exports:
        return {"error": tail}
    data = json.loads(exports[0].read_text())

    def metric(name: str, stat: str) -> float | None:
        value = data.get(name, {})
        return value.get(stat) if isinstance(value, dict) else None

    tokens_per_s = metric("output_token_throughput", "avg") or 0.0
    duration = metric("benchmark_duration", "avg") or 0.0
    tokens = tokens_per_s * duration
    # measured() saw no samples and divided by one token: rescale to the tokens AIPerf counted
    cpu = {name: us / tokens if tokens else None for name, us in result["cpu_us_per_token"].items()}
    return {
        "tokens_per_s": tokens_per_s,
        "tokens": tokens,
        "ttft_p50_ms": metric("time_to_first_token", "p50"),
        "ttft_p99_ms": metric("time_to_first_token", "p99"),
        "itl_p50_ms": metric("inter_token_latency", "p50"),
        "itl_p99_ms": metric("inter_token_latency", "p99"),
        "requests": metric("request_count", "avg"),
        "errors": metric("error_request_count", "avg") or 0,
        "cpu_us_per_token": cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="1,4,16,64,256")
    parser.add_argument("--tokens", type=int, default=256, help="output tokens per request")
    parser.add_argument("--requests-per-worker", type=float, default=1.0)
    parser.add_argument("--min-requests", type=int, default=16)
    parser.add_argument("--peer-proxy", type=Path, help="the seed's openai_proxy.py, extracted by hand")
    parser.add_argument("--no-aiperf", action="store_true")
    parser.add_argument("--aiperf-nonstream", action="store_true", help="also non-streaming under AIPerf")
    parser.add_argument("--workers", default="1,2,4,8", help="proxy --workers counts to scale over ('' for none)")
    parser.add_argument("--workers-concurrency", type=int, default=256)
    parser.add_argument("--client-processes", type=int, default=1, help="split our load client over N processes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    aiperf = not args.no_aiperf and (ROOT / ".venv-bench" / "bin" / "aiperf").exists()
    if args.peer_proxy is not None and not args.peer_proxy.is_file():
        raise SystemExit(f"--peer-proxy {args.peer_proxy}: no such file (bench/README.md says how to extract it)")
    args.out.mkdir(parents=True, exist_ok=True)
    assets = ensure_assets(ROOT / ".cache" / "trtllm-nix", real_models=False)
    files = ModelFiles.load(assets.tokenizer)
    messages = [{"role": "user", "content": REPLY}]
    prompt = ChatTemplate(files.chat_template or "").render(messages, None)
    work = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    aiperf_input = work / "prompts.jsonl"
    aiperf_input.write_text(json.dumps({"text": REPLY}) + "\n")
    repo = write_reference_repository(
        work / "repo", "scripted", assets.tokenizer, max_batch_size=256, guided_decoding=False
    )
    concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    results: dict[str, Any] = {"machine": machine(), "tokens_per_request": args.tokens, "runs": {}}
    results["load_client"] = {"ours": f"bench/clients.py + frontends.py, asyncio, {args.client_processes} process(es)"}
    if aiperf:
        results["load_client"]["aiperf"] = "AIPerf 0.13.0 (.venv-bench)"
    workers_flag = proxy_has_workers()
    results["workers_flag"] = workers_flag
    with TritonServer(TritonRuntime.from_wheel(), repo, work / "triton") as triton:
        processes = []
        try:
            proxy, proxy_url = start_our_proxy(triton.grpc_url, assets.tokenizer, None)
            processes.append(proxy)
            urls = {"proxy": proxy_url}
            pids = {"proxy": proxy.pid, "triton": triton_pid(triton)}
            if args.peer_proxy is not None:
                peer, peer_url = start_peer_proxy(args.peer_proxy.resolve(), triton.grpc_url, assets.tokenizer)
                processes.append(peer)
                urls["peer"] = peer_url
                pids["peer"] = peer.pid
            ctx: dict[str, Any] = {
                "grpc": triton.grpc_url,
                "ids": files.encode(prompt),
                "prompt": prompt,
                "messages": messages,
                "tokens": args.tokens,
                "count": lambda text: len(files.encode(text)),
                "generate_stream": f"{triton.http_url}/v2/models/ensemble/generate_stream",
                "urls": urls,
                "pids": pids,
                "tokenizer": assets.tokenizer,
                "work": work,
                "aiperf_input": aiperf_input,
                "client_processes": args.client_processes,
            }
            paths = ["direct", "triton"] + [f"{front}_{mode}" for front in urls for mode in ("stream", "nostream")]
            for concurrency in concurrencies:
                requests = max(args.min_requests, round(concurrency * args.requests_per_worker))
                for path in paths:
                    result = run_ours(path, concurrency, requests, ctx)
                    results["runs"][f"{path}_c{concurrency}"] = result
                    print(progress(path, concurrency, result), flush=True)
                if aiperf:
                    for front in urls:
                        for stream in (True, False) if args.aiperf_nonstream else (True,):
                            key = f"aiperf_{front}_{'stream' if stream else 'nostream'}_c{concurrency}"
                            result = run_aiperf(front, stream, concurrency, requests, ctx)
                            results["runs"][key] = result
                            print(progress(key.rsplit("_c", 1)[0], concurrency, result), flush=True)
            for process in processes:
                process.terminate()
                process.wait(30)
            processes.clear()
            results["workers"] = scale_workers(args, triton, assets.tokenizer, ctx, workers_flag, aiperf)
        finally:
            close_client_pool()
            for process in processes:
                process.terminate()
                process.wait(30)
    results["ratios"] = key_ratios(results)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    chart = ROOT / ".venv-bench" / "bin" / "python"
    if chart.exists():
        plot = Path(__file__).parent / "side_by_side_plot.py"
        subprocess.run(
            [str(chart), str(plot), str(args.out / "latest.json"), str(args.out / "latest.png")], check=False
        )
    (args.out / "latest.md").write_text(table(results) + "\n")
    print("\n" + table(results))
    return 0


def scale_workers(
    args: argparse.Namespace, triton: TritonServer, tokenizer: Path, ctx: dict[str, Any], flag: bool, aiperf: bool
) -> dict[str, Any]:
    counts = [int(n) for n in args.workers.split(",") if n]
    if not counts:
        return {"skipped": "--workers ''"}
    if not flag:
        return {"skipped": "trtllm-nix proxy has no --workers flag in this tree"}
    out: dict[str, Any] = {"concurrency": args.workers_concurrency, "client": "aiperf" if aiperf else "ours"}
    for count in counts:
        proxy, url = start_our_proxy(triton.grpc_url, tokenizer, count)
        try:
            local = {**ctx, "urls": {**ctx["urls"], "proxy": url}, "pids": {"proxy": proxy.pid}}
            requests = max(args.min_requests, args.workers_concurrency)
            if aiperf:
                result = run_aiperf("proxy", True, args.workers_concurrency, requests, local)
            else:
                result = run_ours("proxy_stream", args.workers_concurrency, requests, local)
        finally:
            proxy.terminate()
            proxy.wait(30)
        out[str(count)] = result
        print(progress(f"proxy --workers {count}", args.workers_concurrency, result), flush=True)
    return out


def triton_pid(triton: TritonServer) -> int:
    if triton.pid is None:
        raise SystemExit("tritonserver is not running")
    return triton.pid


def progress(path: str, concurrency: int, result: dict[str, Any]) -> str:
    if "error" in result:
        return f"c={concurrency:<4} {path:<24} ERROR {result['error'][-200:]!r}"
    cpu = "  ".join(f"{k} {v:.0f} us/tok" for k, v in result["cpu_us_per_token"].items() if v is not None)
    why = f"  first error: {result['first_error'][:160]!r}" if result.get("first_error") else ""
    return (
        f"c={concurrency:<4} {path:<24} {result['tokens_per_s']:9.0f} tok/s  ttft p50 {result['ttft_p50_ms'] or 0:7.1f}"
        f" ms  errors {result.get('errors', 0)}  {cpu}{why}"
    )


if __name__ == "__main__":
    sys.exit(main())
