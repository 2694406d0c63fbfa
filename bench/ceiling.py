"""Round three (issue 32): the proxy's own ceiling, its scaling, and a Rust gateway side by side.

The upstream is not the bottleneck: ``--upstreams`` processes of bench/synthetic_upstream.py (the Triton gRPC
protocol of ``tensorrt_llm``, one response per token, every stream one token per ``--step-ms`` tick), all in the
proxy's pool. The load client is bench/sse_load.py in ``--client-processes`` processes, measuring a steady window
(``--warmup`` then ``--duration`` seconds) at each concurrency. Groups (``--groups``, comma-separated):

  direct    the upstream's ceiling: token ids straight to it over gRPC (the proxy's own client), no front end;
  proxy     our proxy, one process, streaming chat completions, at each ``--concurrency``;
  workers   our proxy with ``--workers`` N at each ``--workers-concurrency``;
  smg       SMG (the Rust gateway, ``smg launch``, HTTP mode) in front of one proxy process: the gateway's own cost;
  smg-workers  SMG in front of our proxy with ``--smg-proxy-workers`` N (the gateway at the proxies' rate);
  peer      the seed's proxy (``--peer-proxy``, see bench/README.md).

CPU per streamed token of every server process tree comes from /proc over the window. Writes ``--out``/
ceiling-<groups>.json (merged into latest.json by bench/ceiling_report.py) and prints a short table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from frontends import process_tree_cpu_seconds, start_our_proxy, start_peer_proxy
from sse_load import run_load
from stats import machine
from trtllm_nix.llm.model_files import ChatTemplate, ModelFiles
from trtllm_nix.triton.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
REPLY = "#reply: " + " ".join(f"word{i % 50}" for i in range(600))


def start_upstreams(
    count: int, token_ids: list[int], step_ms: float
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    processes, urls = [], []
    for port in free_ports(count):
        command = [sys.executable, str(Path(__file__).parent / "synthetic_upstream.py"), "--port", str(port)]
        command += ["--token-ids", ",".join(map(str, token_ids)), "--step-ms", str(step_ms)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise SystemExit(f"synthetic upstream on port {port} did not start")
        processes.append(process)
        urls.append(f"127.0.0.1:{port}")
    return processes, urls


def start_smg(proxy_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """SMG in HTTP mode with our proxy as its one worker (round robin: no cache-aware tree to build per request)."""
    port, metrics = free_ports(2)
    command = [sys.executable, "-m", "smg", "launch", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--prometheus-host", "127.0.0.1", "--prometheus-port", str(metrics)]
    command += ["--worker-urls", proxy_url, "--policy", "round_robin", "--log-level", "warn"]
    command += ["--max-concurrent-requests", "-1", "--disable-retries", "--disable-circuit-breaker"]
    command += ["--health-check-endpoint", "/health", "--request-timeout-secs", "600"]
    log = open(Path(os.environ.get("OUT", "/tmp")) / "smg.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                # the worker must be in rotation, not just the router up
                probe = httpx.post(
                    base + "/v1/chat/completions",
                    json={"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
                    timeout=10,
                )
                if probe.status_code == 200:
                    return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.25)
    process.kill()
    raise RuntimeError(f"smg did not start (exit {process.poll()}); see smg.log")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def cpu_window(pids: dict[str, int]) -> tuple[Callable[[], Callable[[], None]], dict[str, float]]:
    seconds: dict[str, float] = {}

    def begin() -> Callable[[], None]:
        before = {name: process_tree_cpu_seconds(pid) for name, pid in pids.items()}

        def end() -> None:
            for name, pid in pids.items():
                seconds[name] = process_tree_cpu_seconds(pid) - before[name]

        return end

    return begin, seconds


def stage(
    args: argparse.Namespace, kind: str, target: Any, concurrency: int, pids: dict[str, int], ctx: dict[str, Any]
) -> dict[str, Any]:
    begin, seconds = cpu_window(pids)
    try:
        result = run_load(
            kind,
            target,
            concurrency,
            args.client_processes,
            args.warmup,
            args.duration,
            body=ctx["body"],
            ids=ctx["ids"],
            tokens=args.tokens,
            on_window=begin,
        )
    except Exception as error:  # a stage that breaks is recorded, the run goes on
        return {"error": f"{type(error).__name__}: {error}"[:400]}
    tokens = max(1, result["tokens"])
    result["cpu_s"] = dict(seconds)
    result["cpu_us_per_token"] = {name: 1e6 * value / tokens for name, value in seconds.items()}
    result["cores_busy"] = {name: value / args.duration for name, value in seconds.items()}
    return result


def line(name: str, concurrency: int, result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{name:<18} c={concurrency:<5} ERROR {result['error']}"
    cpu = "  ".join(f"{k} {v:6.1f}" for k, v in result["cpu_us_per_token"].items())

    def f(value: float | None) -> str:
        return "   -  " if value is None else f"{value:8.1f}"

    return (
        f"{name:<18} c={concurrency:<5} {result['tokens_per_s']:8.0f} tok/s  ttft p50 {f(result['ttft_p50_ms'])} "
        f"p99 {f(result['ttft_p99_ms'])} ms  itl p99 {f(result['itl_p99_ms'])} ms  err {result['errors']}"
        f"  pend {result['ttft_pending']}  us/tok: {cpu}  client {result['client_cpu_us_per_token'] or 0:.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--groups", default="direct,proxy,workers,smg,peer")
    parser.add_argument("--upstreams", type=int, default=2)
    parser.add_argument("--step-ms", type=float, default=2.0)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--client-processes", type=int, default=8)
    parser.add_argument("--direct-concurrency", default="64,256,1024")
    parser.add_argument("--concurrency", default="1,16,64,256,1024,2048")
    parser.add_argument("--workers", default="2,4,8")
    parser.add_argument("--workers-concurrency", default="256,2048")
    parser.add_argument("--smg-concurrency", default="1,64,256")
    parser.add_argument("--peer-concurrency", default="1,64,256")
    parser.add_argument(
        "--smg-proxy-workers", type=int, default=8, help="the proxy's --workers behind SMG (smg-workers)"
    )
    parser.add_argument("--peer-proxy", type=Path)
    parser.add_argument("--max-in-flight", type=int, default=8192)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    groups = [g for g in args.groups.split(",") if g]
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    files = ModelFiles.load(args.tokenizer)
    messages = [{"role": "user", "content": REPLY}]
    prompt = ChatTemplate(files.chat_template or "").render(messages, None)
    words = files.encode(" ".join(f"word{i}" for i in range(50)))
    body = {
        "model": "qwen3",
        "messages": messages,
        "max_tokens": args.tokens,
        "stream": True,
        "ignore_eos": True,
        "temperature": 0,
        "stream_options": {"include_usage": True},
    }
    ctx = {"body": body, "ids": files.encode(prompt)}
    results: dict[str, Any] = {
        "machine": machine(),
        "setup": {k: str(v) for k, v in vars(args).items()},
        "runs": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ceiling-{'-'.join(groups)}.json"
    upstreams, urls = start_upstreams(args.upstreams, words, args.step_ms)
    up_pids = {f"upstream{i}": p.pid for i, p in enumerate(upstreams)}

    def record(key: str, concurrency: int, result: dict[str, Any]) -> None:
        cpu = result.get("cpu_us_per_token")
        if cpu:
            result["cpu_us_per_token"]["upstream"] = sum(v for k, v in cpu.items() if k.startswith("upstream"))
            for name in list(result["cpu_us_per_token"]):
                if name.startswith("upstream") and name != "upstream":
                    del result["cpu_us_per_token"][name]
        results["runs"][key] = result
        print(line(key.rsplit("_c", 1)[0], concurrency, result), flush=True)
        path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")

    try:
        if "direct" in groups:
            for c in ints(args.direct_concurrency):
                record(f"direct_c{c}", c, stage(args, "grpc", urls, c, up_pids, ctx))
        triton = ",".join(urls)
        if {"proxy", "smg"} & set(groups):
            proxy, proxy_url = start_our_proxy(triton, args.tokenizer, None, max_in_flight=args.max_in_flight)
            try:
                pids = {**up_pids, "proxy": proxy.pid}
                if "proxy" in groups:
                    for c in ints(args.concurrency):
                        record(f"proxy_c{c}", c, stage(args, "sse", proxy_url, c, pids, ctx))
                if "smg" in groups:
                    try:
                        smg, smg_url = start_smg(proxy_url)
                    except RuntimeError as error:
                        results["smg_error"] = str(error)
                        print("smg:", error, flush=True)
                    else:
                        try:
                            for c in ints(args.smg_concurrency):
                                record(f"smg_c{c}", c, stage(args, "sse", smg_url, c, {**pids, "smg": smg.pid}, ctx))
                        finally:
                            stop(smg)
            finally:
                stop(proxy)
        if "smg-workers" in groups:  # SMG in front of one proxy with --workers N: the gateway at the proxies' rate
            proxy, proxy_url = start_our_proxy(
                triton, args.tokenizer, args.smg_proxy_workers, max_in_flight=args.max_in_flight
            )
            try:
                smg, smg_url = start_smg(proxy_url)
                try:
                    pids = {**up_pids, "proxy": proxy.pid, "smg": smg.pid}
                    for c in ints(args.smg_concurrency):
                        record(f"smg_w{args.smg_proxy_workers}_c{c}", c, stage(args, "sse", smg_url, c, pids, ctx))
                finally:
                    stop(smg)
            finally:
                stop(proxy)
        if "workers" in groups:
            for count in ints(args.workers):
                proxy, proxy_url = start_our_proxy(triton, args.tokenizer, count, max_in_flight=args.max_in_flight)
                try:
                    for c in ints(args.workers_concurrency):
                        pids = {**up_pids, "proxy": proxy.pid}
                        record(f"proxy_w{count}_c{c}", c, stage(args, "sse", proxy_url, c, pids, ctx))
                finally:
                    stop(proxy)
        if "peer" in groups and args.peer_proxy is not None and args.peer_proxy.is_file():
            peer, peer_url = start_peer_proxy(args.peer_proxy.resolve(), urls[0], args.tokenizer)
            try:
                for c in ints(args.peer_concurrency):
                    record(f"peer_c{c}", c, stage(args, "sse", peer_url, c, {**up_pids, "peer": peer.pid}, ctx))
            finally:
                stop(peer)
    finally:
        for process in upstreams:
            stop(process)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
