"""CPU per streamed token of one proxy process, component by component (issue 32): the proxy runs under cProfile
in front of bench/synthetic_upstream.py, bench/sse_load.py streams through it for a steady window, and each
function's own time (tottime) is put in one bucket: receive (gRPC aio and the response's parsing), detokenize,
parse (reasoning/tool parsers and the chat stream's logic), encode (chunk JSON), send (SSE, Starlette, uvicorn,
the socket write), asyncio (the event loop, queues, timers) and other. cProfile slows Python code more than C, so
read the shares, not the absolute microseconds; startup (imports, the tokenizer load) is left out by taking only
functions called at least once per ten tokens.

    python bench/profile_components.py --tokenizer DIR [--concurrency 32] [--seconds 6]
"""

from __future__ import annotations

import argparse
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

BUCKETS = [  # (bucket, substrings of "file:function"; the first match wins)
    ("send", ["'write' of", "'send' of", "sendmsg"]),
    ("receive", ["grpc/", "cygrpc", "triton_client.py", "FromString", "pool.py", "upstream_types.py", "numpy"]),
    ("detokenize", ["decoders.py", "DecodeStream", "tokenizers"]),
    (
        "parse",
        ["parsers/", "serving/", "generation.py", "lifecycle.py", "output_events.py", "events.py", "dataclasses"],
    ),
    ("encode", ["json/", "protocol.py", "dumps", "encoder"]),
    ("send", ["sse.py", "starlette/", "uvicorn/", "httptools", "h11", "fastapi/", "middleware.py"]),
    ("asyncio", ["asyncio/", "uvloop", "{method 'run", "{built-in method select", "_contextvars"]),
    ("metrics", ["prometheus_client/", "metrics.py"]),
]


def bucket(name: str) -> str:
    for label, needles in BUCKETS:
        if any(needle in name for needle in needles):
            return label
    return "other"


def components(profile: Path, tokens: int, top: list[tuple[float, str, str]] | None = None) -> dict[str, float]:
    """Microseconds per token by bucket; ``top`` (if given) receives (us per token, bucket, function) of each."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for (file, _line, function), (_, calls, tottime, _, _) in stats.items():
        if calls * 10 < tokens:  # startup and per-request work, not per-token
            continue
        label = bucket(f"{file}:{function}")
        out[label] = out.get(label, 0.0) + 1e6 * tottime / tokens
        if top is not None:
            top.append((1e6 * tottime / tokens, label, f"{file.rsplit('/', 2)[-1]}:{function}"))
    return dict(sorted(out.items(), key=lambda item: -item[1]))


def main() -> int:
    from ceiling import REPLY, start_upstreams, stop
    from sse_load import run_load
    from trtllm_nix.llm.model_files import ModelFiles
    from trtllm_nix.triton.ports import free_ports

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--step-ms", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=0, help="also the N costliest functions")
    args = parser.parse_args()
    files = ModelFiles.load(args.tokenizer)
    upstreams, urls = start_upstreams(1, files.encode(" ".join(f"word{i}" for i in range(50))), args.step_ms)
    profile = Path(tempfile.mkdtemp()) / "proxy.prof"
    port = free_ports(1)[0]
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "trtllm_nix.cli", "proxy"]
    command += ["--triton", urls[0], "--tokenizer", str(args.tokenizer), "--port", str(port)]
    command += ["--max-in-flight", "4096", "--reasoning-parser", "none"]
    proxy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = {
            "model": "qwen3",
            "messages": [{"role": "user", "content": REPLY}],
            "max_tokens": 256,
            "stream": True,
            "ignore_eos": True,
            "stream_options": {"include_usage": True},
        }
        result = run_load("sse", url, args.concurrency, 1, 0.5, args.seconds, body=body)
    finally:
        proxy.send_signal(signal.SIGINT)  # cProfile writes its file on a clean exit
        proxy.wait(60)
        for process in upstreams:
            stop(process)
    # every token the proxy sent in the run, warm-up and tail included: the profile covers them all
    tokens = int(result["tokens"] * (args.seconds + 0.5) / args.seconds)
    print(f"{result['tokens_per_s']:.0f} tok/s at c={args.concurrency}; profiled CPU per token by component (us):")
    top: list[tuple[float, str, str]] = []
    shares = components(profile, tokens, top)
    total = sum(shares.values())
    for label, value in shares.items():
        print(f"  {label:<11} {value:7.1f}  {100 * value / total:5.1f} %")
    print(f"  {'total':<11} {total:7.1f}")
    for value, label, name in sorted(top, reverse=True)[: args.top]:
        print(f"    {value:7.1f}  {label:<10} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
