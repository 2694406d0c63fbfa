"""The front ends the side-by-side bench compares, as processes of their own (so each one's CPU can be read from
/proc), and the one OpenAI load client they all get: our proxy (optionally ``--workers N``) and the seed's proxy
(weyl-ai/nvidia-sdk ``nix/openai-proxy.nix`` at tag ``trtllm-tp4-working``, extracted by hand, see bench/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from clients import Client, Sample
from trtllm_nix.triton.ports import free_ports


def proxy_has_workers() -> bool:
    """Whether this tree's ``trtllm-nix proxy`` has the ``--workers`` flag (the proxy-core issue adds it)."""
    done = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "proxy", "--help"], capture_output=True, text=True, check=False
    )
    return "--workers" in done.stdout


def _wait_ready(process: subprocess.Popen[bytes], url: str, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{what} did not start (exit code {process.poll()}); run it by hand to see why")


def start_our_proxy(
    triton_grpc: str, tokenizer: Path, workers: int | None, max_in_flight: int = 4096
) -> tuple[subprocess.Popen[bytes], str]:
    """``max_in_flight`` also sets ``--max-connections`` (per process, default 1000) when larger than that."""
    port = free_ports(1)[0]
    command = [sys.executable, "-m", "trtllm_nix.cli", "proxy", "--triton", triton_grpc]
    command += ["--tokenizer", str(tokenizer), "--port", str(port), "--max-in-flight", str(max_in_flight)]
    if max_in_flight > 1000:
        command += ["--max-connections", str(max_in_flight)]
    command += ["--reasoning-parser", "none"]
    if workers is not None:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(process, base + "/health/ready", "our proxy")
    if workers is not None:
        wait_workers(process, base, workers)
    return process, base


def workers_ready(base: str) -> float:
    """How many of the proxy's worker processes serve (``trtllm_nix_workers_ready`` summed over live workers)."""
    text = httpx.get(base + "/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("trtllm_nix_workers_ready "))


def wait_workers(process: subprocess.Popen[bytes], base: str, workers: int, seconds: float = 180) -> None:
    """/health/ready answers once one worker serves; a stage measured before the others start would run on
    fewer workers than it says."""
    deadline = time.monotonic() + seconds
    while (ready := workers_ready(base)) < workers:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"our proxy --workers {workers}: {ready:.0f} serving after {seconds:.0f} s")
        time.sleep(0.1)


def start_peer_proxy(script: Path, triton_grpc: str, tokenizer: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The seed's proxy: FastAPI + uvicorn, transformers' AutoTokenizer from a local folder, tritonclient.grpc.
    Its flags: --port, --triton-url host:port, --model-name, --tokenizer (a folder or a Hub id)."""
    port = free_ports(1)[0]
    command = [sys.executable, str(script), "--port", str(port), "--triton-url", triton_grpc]
    command += ["--model-name", "qwen3", "--tokenizer", str(tokenizer)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
    )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(process, base + "/health", "the peer proxy")
    return process, base


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its live descendants (workers), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def openai_chat(
    client: httpx.AsyncClient,
    url: str,
    messages: list[dict[str, str]],
    max_tokens: int,
    stream: bool,
    count_tokens: Callable[[str], int],
) -> Client:
    """One client for every OpenAI front end. Tokens come from the usage a server reports when it reports one
    (ours does), else from the answer's text re-encoded with the same tokenizer (the seed's proxy sends -1)."""
    body = {
        "model": "qwen3",
        "messages": messages,
        "max_tokens": max_tokens,
        "stream": stream,
        "ignore_eos": True,
        "temperature": 0,
        "stream_options": {"include_usage": True} if stream else None,
    }

    async def run() -> Sample:
        sample = Sample(time.perf_counter())
        if not stream:
            response = await client.post(url, json=body)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
            data = response.json()
            reported = (data.get("usage") or {}).get("completion_tokens") or -1
            text = data["choices"][0]["message"]["content"] or ""
            sample.add(reported if reported > 0 else count_tokens(text), time.perf_counter())
            return sample
        texts: list[str] = []
        reported = -1
        async with client.stream("POST", url, json=body) as response:
            if response.status_code != 200:  # a 429 or 4xx is a failed request with its reason, not an empty answer
                raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread()).decode()[:300]}")
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if event.get("error"):  # a failure after the headers: an error event, then [DONE]
                    raise RuntimeError(f"error event: {json.dumps(event['error'])[:300]}")
                if event.get("usage"):
                    reported = event["usage"].get("completion_tokens") or -1
                elif event.get("choices") and event["choices"][0]["delta"].get("content"):
                    texts.append(event["choices"][0]["delta"]["content"])
                    sample.arrivals.append(time.perf_counter())
        total = reported if reported > 0 else count_tokens("".join(texts))
        sample.tokens = total  # multi-token deltas: the last arrival stands for the tokens not seen one by one
        if sample.arrivals and len(sample.arrivals) < total:
            sample.arrivals.extend([sample.arrivals[-1]] * (total - len(sample.arrivals)))
        return sample

    return run
