"""A cheap, multi-process load client for OpenAI streaming chat completions (issue 32).

Each process holds its share of the concurrency as keep-alive HTTP/1.1 connections (raw asyncio protocols, no
HTTP library, no JSON parsing per event: a read's ``data:`` events are counted and stamped), and loops: send one
request, read its stream to ``data: [DONE]`` and the last chunk, send the next. A request's tokens are the
completion tokens its final usage reports when the server reports them, else its content events. All processes
start together; tokens, their gaps and CPU are counted inside a measurement window after a warm-up, so the result
is the steady state at that concurrency; the streams start spread evenly over the warm-up (no single burst of c
requests), and TTFT is of every request started before the window ends, those of the warm-up included.

Also a direct gRPC load (token ids straight to the upstream, through the proxy's own ``TritonUpstream``) in the
same processes and windows, for the upstream's ceiling.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

USAGE = re.compile(rb'"completion_tokens":\s*(\d+)')
PENDING_AFTER = 1.0  # a request cut at the window's end counts as "no first token" when it had waited this long
CONTENT = re.compile(rb'"content":\s*"(?!")')  # a delta with text (not the role-only first chunk)


@dataclass
class Tally:
    """What one process saw: token arrival counts in the window, gaps inside it, TTFTs, errors."""

    window: tuple[float, float]
    tokens: int = 0
    gaps: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    pending_first: int = 0  # requests cut at the end with no first token after PENDING_AFTER seconds
    requests: int = 0
    completed: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, why: str) -> None:
        self.errors += 1
        self.error_kinds[why[:120]] = self.error_kinds.get(why[:120], 0) + 1

    def arrive(self, count: int, now: float, last: float | None) -> None:
        start, end = self.window
        if start <= now <= end:
            self.tokens += count
            if last is not None and last >= start:
                self.gaps.append(now - last)


class SSEConnection(asyncio.Protocol):
    """One keep-alive connection; each read is parsed in the callback (no queue, no timer per read)."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.begin(None)

    def begin(self, done: asyncio.Future[str] | None) -> None:
        self.done = done
        self.started = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.seen = 0
        self.head = True
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def finish(self, how: str) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(how)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        tally = self.tally
        if self.head:
            if not data.startswith(b"HTTP/1.1 200"):
                tally.error(data.split(b"\r\n", 1)[0].decode(errors="replace") + " " + data[-200:].decode("latin1"))
                self.finish("failed")
                return
            self.head = False
        if b'"error":' in data:
            tally.error("error event: " + data[data.find(b'"error":') :][:160].decode(errors="replace"))
            self.finish("failed")
            return
        count = len(CONTENT.findall(data))
        if b'"usage"' in data:  # the last event: its usage says how many tokens the answer had
            usage = USAGE.search(data)
            if usage is not None:
                count += max(0, int(usage.group(1)) - self.seen - count)
        if count > 0:
            if self.first is None:
                self.first = now
                tally.ttft.append(now - self.started)
            tally.arrive(count, now, self.last)
            self.last = now
            self.seen += count
        self.tail = (self.tail + data)[-64:]
        if b"data: [DONE]" in self.tail and self.tail.endswith(b"0\r\n\r\n"):
            self.finish("done")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.finish("done" if b"data: [DONE]" in self.tail else "closed")


async def _one_connection(host: str, port: int, request: bytes, tally: Tally, stop: float, delay: float) -> None:
    loop = asyncio.get_running_loop()
    connection: SSEConnection | None = None
    await asyncio.sleep(delay)  # the streams start spread over the warm-up, not as one burst
    while time.perf_counter() < stop:
        if connection is None:
            try:
                _, connection = await loop.create_connection(lambda: SSEConnection(tally), host, port)
            except OSError as error:
                tally.error(f"connect: {error}")
                await asyncio.sleep(0.05)
                continue
        assert connection.transport is not None
        done: asyncio.Future[str] = loop.create_future()
        connection.begin(done)
        tally.requests += 1
        connection.transport.write(request)
        finished, _ = await asyncio.wait({done}, timeout=max(0.0, stop - time.perf_counter()))
        how = done.result() if finished else "cut"
        connection.done = None
        if how == "done":
            tally.completed += 1
        elif how == "closed":
            tally.error("connection closed mid-stream")
        elif how == "cut" and connection.first is None and stop - connection.started >= PENDING_AFTER:
            tally.pending_first += 1
        if how != "done" or connection.lost:  # cut at the window's end, or broken: a fresh connection next
            if connection.transport is not None:
                connection.transport.abort()
            connection = None
    if connection is not None and connection.transport is not None:
        connection.transport.close()


def _http_request(host: str, port: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _cpu_seconds() -> float:
    import os

    times = os.times()
    return times.user + times.system


async def _sse_share(
    url: str, body: dict[str, Any], share: int, start: float, warmup: float, duration: float
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = _http_request(host, int(port), body)
    await asyncio.sleep(max(0.0, start - time.time()))  # every process starts at the same moment
    now = time.perf_counter()
    tally = Tally((now + warmup, now + warmup + duration))
    cpu: list[float] = []

    async def mark_cpu() -> None:
        await asyncio.sleep(warmup)
        cpu.append(_cpu_seconds())
        await asyncio.sleep(duration)
        cpu.append(_cpu_seconds())

    marker = asyncio.ensure_future(mark_cpu())
    ramp = [warmup * random.random() for _ in range(share)]
    await asyncio.gather(*(_one_connection(host, int(port), request, tally, now + warmup + duration, d) for d in ramp))
    await marker
    return {**tally.__dict__, "client_cpu_s": cpu[1] - cpu[0] if len(cpu) == 2 else None}


async def _grpc_share(
    target: list[str], ids: list[int], tokens: int, share: int, start: float, warmup: float, duration: float
) -> dict[str, Any]:
    from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamRequest

    upstreams = [TritonUpstream(url) for url in target]
    request = UpstreamRequest(input_ids=ids, max_new_tokens=tokens, end_id=-1, pad_id=0)
    await asyncio.sleep(max(0.0, start - time.time()))  # every process starts at the same moment
    now = time.perf_counter()
    stop = now + warmup + duration
    tally = Tally((now + warmup, stop))
    cpu: list[float] = []

    async def mark_cpu() -> None:
        await asyncio.sleep(warmup)
        cpu.append(_cpu_seconds())
        await asyncio.sleep(duration)
        cpu.append(_cpu_seconds())

    async def loop(index: int) -> None:
        upstream = upstreams[index % len(upstreams)]
        await asyncio.sleep(warmup * random.random())
        while time.perf_counter() < stop:
            started = time.perf_counter()
            tally.requests += 1
            first: float | None = None
            last: float | None = None
            stream = upstream.generate(request)
            try:
                async for chunk in stream:
                    now = time.perf_counter()
                    if chunk.token_ids:
                        if first is None:
                            first = now
                            tally.ttft.append(now - started)
                        tally.arrive(len(chunk.token_ids), now, last)
                        last = now
                    if now > stop:
                        break
                else:
                    tally.completed += 1
            except Exception as error:
                tally.error(f"{type(error).__name__}: {error}")
            finally:
                await stream.aclose()

    marker = asyncio.ensure_future(mark_cpu())
    await asyncio.gather(*(loop(i) for i in range(share)))
    await marker
    for upstream in upstreams:
        await upstream.close()
    return {**tally.__dict__, "client_cpu_s": cpu[1] - cpu[0] if len(cpu) == 2 else None}


def _child(job: tuple[str, Any]) -> dict[str, Any]:
    kind, args = job
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    if kind == "sse":
        return asyncio.run(_sse_share(*args))
    return asyncio.run(_grpc_share(*args))


def _shares(concurrency: int, processes: int) -> list[int]:
    processes = max(1, min(processes, concurrency))
    return [concurrency * (i + 1) // processes - concurrency * i // processes for i in range(processes)]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def merge(parts: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    tokens = sum(p["tokens"] for p in parts)
    ttft = [t for p in parts for t in p["ttft"]]
    gaps = [g for p in parts for g in p["gaps"]]
    kinds: dict[str, int] = {}
    for part in parts:
        for kind, count in part["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + count
    client_cpu = sum(p["client_cpu_s"] or 0.0 for p in parts)

    def ms(value: float | None) -> float | None:
        return None if value is None else 1000 * value

    return {
        "tokens": tokens,
        "tokens_per_s": tokens / duration,
        "requests": sum(p["requests"] for p in parts),
        "completed": sum(p["completed"] for p in parts),
        "errors": sum(p["errors"] for p in parts),
        "error_kinds": kinds,
        "ttft_count": len(ttft),
        "ttft_pending": sum(p["pending_first"] for p in parts),
        "ttft_p50_ms": ms(percentile(ttft, 50)),
        "ttft_p99_ms": ms(percentile(ttft, 99)),
        "itl_p50_ms": ms(percentile(gaps, 50)),
        "itl_p99_ms": ms(percentile(gaps, 99)),
        "client_cpu_us_per_token": 1e6 * client_cpu / tokens if tokens else None,
        "client_processes": len(parts),
    }


def run_load(
    kind: str,
    target: str | list[str],
    concurrency: int,
    processes: int,
    warmup: float,
    duration: float,
    *,
    body: dict[str, Any] | None = None,
    ids: list[int] | None = None,
    tokens: int = 256,
    on_window: Any = None,
) -> dict[str, Any]:
    """One stage: ``kind`` "sse" (target: the front end's base URL, body: the chat request) or "grpc" (target: the
    upstreams' host:port list, ids: the prompt's token ids). ``on_window(start, end)`` runs in this process at the
    window's start (returns a callable run at its end), for the servers' CPU."""
    shares = _shares(concurrency, processes)
    start = time.time() + 1.5
    if kind == "sse":
        jobs = [("sse", (target, body, share, start, warmup, duration)) for share in shares]
    else:
        jobs = [("grpc", (target, ids, tokens, share, start, warmup, duration)) for share in shares]
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(jobs)) as pool:
        pending = pool.map_async(_child, jobs, chunksize=1)
        finish = None
        if on_window is not None:
            time.sleep(max(0.0, start + warmup - time.time()))
            finish = on_window()
            time.sleep(max(0.0, start + warmup + duration - time.time()))
            finish()
        parts = pending.get(timeout=warmup + duration + 600)
    return merge(parts, duration)
