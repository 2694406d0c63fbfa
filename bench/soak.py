"""`make soak`: 256 concurrent streams for two minutes against the scripted backend. Passes when there are zero
errors, every answer is complete and byte-exact, the proxy's memory stays within 10 % of its level after warm-up,
and, with a lower in-flight limit, the excess is refused cleanly with 429 and Retry-After. Loopback only; stops
by itself."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_process import start_proxy_process
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

ROOT = Path(__file__).resolve().parent.parent
REPLIES = ["Grüße aus 東京 🎉 " + "word " * 20, "plain ascii answer " * 8, "👨‍👩‍👧 family, naïve café " * 4]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def stream_once(client: httpx.AsyncClient, url: str, reply: str) -> str | None:
    body = {"model": "qwen3", "messages": [{"role": "user", "content": f"#reply: {reply}"}], "stream": True}
    text: list[str] = []
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            return f"status {response.status_code}"
        done = False
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                if "error" in event:
                    return f"error event {event['error']['message']}"
                text.extend(c["delta"].get("content") or "" for c in event["choices"])
    if not done:
        return "no [DONE]"
    expected = reply.lstrip()  # the answer as the model says it; leading whitespace is not content
    return None if "".join(text) == expected else f"text mismatch: {''.join(text)[:60]!r}"


async def soak(url: str, concurrency: int, seconds: float, pid: int) -> dict[str, object]:
    errors: list[str] = []
    completed = 0
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds
    # A connection per request: a reused keep-alive connection closed by the server just as a request goes out
    # fails in the client before the server sees it, which would measure httpx, not the proxy.
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker(index: int) -> None:
            nonlocal completed
            while time.monotonic() < deadline:
                try:
                    problem = await stream_once(client, url, REPLIES[(index + completed) % len(REPLIES)])
                except httpx.HTTPError as error:  # counted, never hidden
                    problem = f"{type(error).__name__}: {error}"
                if problem:
                    errors.append(problem)
                completed += 1

        async def sampler() -> None:
            started = time.monotonic()
            while time.monotonic() < deadline:
                samples.append((time.monotonic() - started, rss_mib(pid)))
                await asyncio.sleep(2)

        await asyncio.gather(sampler(), *(worker(i) for i in range(concurrency)))
    warm = [rss for t, rss in samples if t >= min(30.0, seconds / 4)] or [rss for _, rss in samples]
    return {
        "completed": completed,
        "errors": len(errors),
        "first_errors": errors[:5],
        "rss_after_warmup_mib": round(warm[0], 1),
        "rss_max_mib": round(max(warm), 1),
        "rss_growth": round(max(warm) / warm[0] - 1, 3),
    }


async def limit_check(url: str) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=60) as client:

        async def one() -> tuple[int, str | None]:
            body = {"model": "qwen3", "messages": [{"role": "user", "content": "#reply: a b c d #delay_ms:50"}]}
            response = await client.post(url, json=body)
            return response.status_code, response.headers.get("retry-after")

        results = await asyncio.gather(*(one() for _ in range(64)))
    codes = [code for code, _ in results]
    assert all(after == "1" for code, after in results if code == 429), "every 429 carries Retry-After"
    return {
        "ok": codes.count(200),
        "refused": codes.count(429),
        "other": len(codes) - codes.count(200) - codes.count(429),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    assets = ensure_assets(ROOT / ".cache" / "trtllm-nix")
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    repo = write_reference_repository(work / "repo", "scripted", assets.tokenizer, max_batch_size=512)
    with TritonServer(TritonRuntime.from_wheel(), repo, work / "triton") as triton:
        proxy, base = start_proxy_process(triton.grpc_url, assets.tokenizer, "--max-in-flight", "4096")
        try:
            report = asyncio.run(soak(base + "/v1/chat/completions", args.concurrency, args.seconds, proxy.pid))
        finally:
            proxy.terminate()
            proxy.wait(30)
        limited, base = start_proxy_process(triton.grpc_url, assets.tokenizer, "--max-in-flight", "16")
        try:
            report["limit_16_of_64"] = asyncio.run(limit_check(base + "/v1/chat/completions"))
        finally:
            limited.terminate()
            limited.wait(30)
    print(json.dumps(report, indent=2))
    limit = report["limit_16_of_64"]
    assert isinstance(limit, dict)
    passed = (
        report["errors"] == 0
        and float(report["rss_growth"]) <= 0.10  # type: ignore[arg-type]
        and limit["refused"] > 0
        and limit["other"] == 0
        and limit["ok"] >= 16
    )
    print("soak: PASSED" if passed else "soak: FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
