"""Hostile bodies against a running proxy while four streams run in the background: for each probe its statuses,
its latency, the worst gap between the background streams' chunks while it ran (a stall of the event loop shows
here), and the proxy's RSS before and after. Ends with the worst stall and the largest RSS growth of the run.

    python bench/hostile_probe.py                   # a scripted tritonserver and a proxy of its own (loopback)
    python bench/hostile_probe.py --proxy-arg=--body-timeout=10

The probes are those of issue 35 (docs/reliability.md): deep structured-output schemas, one and eight at once;
lone surrogates; deep JSON; 30k one-character messages; oversized headers; connections that never finish their
headers or bodies. Every loop is bounded by count and time; nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_process import start_proxy_process
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import default_cache_dir, ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

ROOT = Path(__file__).resolve().parent.parent
BACKGROUND = "#reply: " + "tick " * 3000 + "#delay_ms:20"  # one token every 20 ms, for a minute


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Background:
    """Streams that run until stopped, each restarted when it ends; every chunk's arrival time is kept."""

    base: str
    count: int = 4
    arrivals: list[list[float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for index in range(self.count):
            self.arrivals.append([])
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, index: int) -> None:
        body = {
            "model": "qwen3",
            "stream": True,
            "max_tokens": 5000,
            "messages": [{"role": "user", "content": BACKGROUND}],
        }
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                try:
                    with client.stream("POST", self.base + "/v1/chat/completions", json=body) as response:
                        for _ in response.iter_raw():
                            self.arrivals[index].append(time.monotonic())
                            if self._stop.is_set():
                                return
                except httpx.HTTPError as error:
                    self.errors.append(repr(error))

    def worst_gap(self, start: float, end: float) -> float:
        """The longest wait for a chunk, on any stream, between ``start`` and ``end`` (seconds)."""
        worst = 0.0
        for times in self.arrivals:
            inside = [t for t in times if start <= t <= end]
            before = [t for t in times if t < start][-1:]
            points = before + inside + [end]
            worst = max([worst, *(b - a for a, b in itertools.pairwise(points))])
        return worst

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


@dataclass
class HealthWatch:
    """/health polled every 20 ms: its latency shows a stall of the proxy's own event loop, apart from the
    backend (the background streams' gaps show both: the scripted backend compiles guides in its one loop too)."""

    base: str
    samples: list[tuple[float, float]] = field(default_factory=list)  # (sent, seconds to answer)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.wait(0.02):
                sent = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    client.get(self.base + "/health")
                self.samples.append((sent, time.monotonic() - sent))

    def worst(self, start: float, end: float) -> float:
        return max((took for sent, took in self.samples if start <= sent <= end), default=0.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


def post(base: str, path: str, body: Any, raw: bytes | None = None) -> int:
    content = raw if raw is not None else json.dumps(body).encode()
    try:
        response = httpx.post(base + path, content=content, headers={"Content-Type": "application/json"}, timeout=120)
    except httpx.HTTPError:
        return 0
    return response.status_code


def nested_schema(levels: int, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {name: schema}, "required": [name]}
    return schema


def schema_chat(levels: int, name: str = "a") -> dict[str, Any]:
    wrapper = {"name": "x", "schema": nested_schema(levels, name)}
    return {
        "model": "qwen3",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "#reply: {}"}],
        "response_format": {"type": "json_schema", "json_schema": wrapper},
    }


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "qwen3", "max_tokens": 8, "messages": [{"role": "user", "content": text}], **extra}


def raw_request(host: str, port: int, request: bytes) -> int:
    """Send ``request`` as it is; the status the server answers (0: closed without one, or no answer in 30 s)."""
    with socket.create_connection((host, port), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before it has read everything
            sock.sendall(request)
        try:
            head = sock.recv(64)
        except OSError:
            return 0
    parts = head.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def slowloris(host: str, port: int, connections: int, hold: float) -> list[int]:
    """Half the connections never finish their headers, half never finish a chunked body; for ``hold`` seconds,
    count those the server closed (its answer, if any, is read and dropped)."""
    partial = [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    ]
    socks = []
    for index in range(connections):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(partial[index % 2])
        sock.setblocking(False)
        socks.append(sock)
    closed = [0, 0]
    ended = [False] * connections
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline and not all(ended):
        for index, sock in enumerate(socks):
            if ended[index]:
                continue
            try:
                while sock.recv(65536):
                    pass
                ended[index] = True  # b"": the server closed it
                closed[index % 2] += 1
            except BlockingIOError:
                pass
            except OSError:
                ended[index] = True
                closed[index % 2] += 1
        time.sleep(0.1)
    for sock in socks:
        sock.close()
    return closed


def probes(base: str, host: str, port: int, hold: float) -> list[tuple[str, Callable[[], str]]]:
    deep_input = b'{"model": "qwen3", "input": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    tiny = json.dumps(chat("x") | {"messages": [{"role": "user", "content": "x"}] * 30_000}).encode()

    def one(path: str, body: Any = None, raw: bytes | None = None) -> Callable[[], str]:
        return lambda: str(post(base, path, body, raw))

    def eight_schemas(levels: int) -> Callable[[], str]:
        return lambda: eight(levels)

    def eight(levels: int) -> str:
        with ThreadPoolExecutor(9) as pool:
            bodies = [schema_chat(levels, f"k{levels}_{i}") for i in range(8)]
            attackers = [pool.submit(post, base, "/v1/chat/completions", body) for body in bodies]
            time.sleep(1.0)  # the victim arrives while the eight compile
            started = time.monotonic()
            victim = post(base, "/v1/chat/completions", chat("#reply: victim"))
            took = time.monotonic() - started
            statuses = sorted(future.result() for future in attackers)
        return f"{statuses} victim {victim} in {took:.2f} s"

    def headers(text: bytes) -> Callable[[], str]:
        return lambda: str(raw_request(host, port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + text + b"\r\n"))

    def loris() -> str:
        unfinished_headers, unfinished_bodies = slowloris(host, port, 100, hold)
        return f"closed by the server in {hold:g} s: {unfinished_headers}/50 headers, {unfinished_bodies}/50 bodies"

    return [
        ("baseline chat", one("/v1/chat/completions", chat("#reply: fine"))),
        ("lone surrogate, chat", one("/v1/chat/completions", chat("a\ud800"))),
        ("lone surrogate, completions", one("/v1/completions", {"model": "qwen3", "prompt": "a\ud800b"})),
        ("lone surrogate, responses", one("/v1/responses", {"model": "qwen3", "input": "a\ud800b"})),
        ("lone surrogate, tokenize", one("/tokenize", {"model": "qwen3", "prompt": "a\ud800b"})),
        ("lone surrogate, streamed chat", one("/v1/chat/completions", chat("a\ud800", stream=True))),
        ("10k-deep input, responses", one("/v1/responses", raw=deep_input)),
        ("json_schema depth 50", one("/v1/chat/completions", schema_chat(50, "d50"))),
        ("json_schema depth 200", one("/v1/chat/completions", schema_chat(200, "d200"))),
        ("json_schema depth 200, again", one("/v1/chat/completions", schema_chat(200, "d200"))),
        ("8 distinct depth-200 schemas + victim", eight_schemas(200)),
        ("json_schema depth 30 (within the bounds)", one("/v1/chat/completions", schema_chat(30, "d30"))),
        ("8 distinct depth-30 schemas + victim", eight_schemas(30)),
        ("30k one-character messages", one("/v1/chat/completions", raw=tiny)),
        ("echo + logprobs", one("/v1/completions", {"model": "qwen3", "prompt": "e", "echo": True, "logprobs": 1})),
        ("one 1 MB header", headers(b"X-Big: " + b"a" * (1 << 20) + b"\r\n")),
        ("10,000 headers of 100 B", headers(b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 90) for i in range(10_000)))),
        ("slowloris: 50 headers + 50 bodies never finished", loris),
        ("after everything: chat", one("/v1/chat/completions", chat("#reply: fine"))),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold", type=float, default=15.0, help="seconds the slowloris connections are held")
    parser.add_argument("--proxy-arg", action="append", default=[], help="one more argument for the proxy")
    args = parser.parse_args()
    assets = ensure_assets(
        default_cache_dir() if os.environ.get("TRTLLM_NIX_CACHE") else ROOT / ".cache" / "trtllm-nix"
    )
    with tempfile.TemporaryDirectory(prefix="hostile-probe-") as tmp:
        repo = write_reference_repository(Path(tmp) / "repo", "scripted", assets.tokenizer, max_seq_len=16384)
        with TritonServer(TritonRuntime.from_wheel(), repo, Path(tmp) / "work") as triton:
            extra = ["--model-repository", str(repo), *args.proxy_arg]
            proxy, base = start_proxy_process(triton.grpc_url, assets.tokenizer, *extra)
            try:
                return run(base, proxy.pid, args.hold)
            finally:
                proxy.terminate()
                proxy.wait(15)


def run(base: str, pid: int, hold: float) -> int:
    host, port = base.removeprefix("http://").split(":")
    background, health = Background(base), HealthWatch(base)
    background.start()
    health.start()
    deadline = time.monotonic() + 60
    while min((len(times) for times in background.arrivals), default=0) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)  # every background stream is flowing
    start_rss = rss_mib(pid)
    worst_gap, worst_health, worst_growth = 0.0, 0.0, 0.0
    print(f"{'probe':50} {'result':58} {'latency':>8} {'bg gap':>8} {'/health':>8} {'RSS MiB':>13}")
    for name, probe in probes(base, host, int(port), hold):
        before = rss_mib(pid)
        started = time.monotonic()
        result = probe()
        ended = time.monotonic()
        after = rss_mib(pid)
        gap, answer = background.worst_gap(started, ended), health.worst(started, ended)
        worst_gap, worst_health = max(worst_gap, gap), max(worst_health, answer)
        worst_growth = max(worst_growth, after - start_rss)
        print(
            f"{name:50} {result:58} {ended - started:7.2f}s {gap * 1000:6.0f}ms {answer * 1000:6.0f}ms "
            f"{before:6.0f}→{after:<6.0f}"
        )
    background.stop()
    health.stop()
    print(f"\nworst background-stream stall: {worst_gap * 1000:.0f} ms")
    print(f"worst /health answer: {worst_health * 1000:.0f} ms")
    print(f"largest RSS growth: {worst_growth:.0f} MiB (from {start_rss:.0f} MiB)")
    print(f"background stream errors: {len(background.errors)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
