"""Our own asyncio load clients, one per path, all measuring the same things: when each request's first token
and every later token arrived, and how many tokens it got."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamRequest


@dataclass
class Sample:
    started: float
    arrivals: list[float] = field(default_factory=list)  # one timestamp per token (chunks spread evenly)
    tokens: int = 0
    error: str | None = None

    def add(self, count: int, now: float) -> None:
        self.arrivals.extend([now] * count)
        self.tokens += count


Client = Callable[[], Awaitable[Sample]]


def direct_grpc(upstream: TritonUpstream, ids: list[int], max_tokens: int) -> Client:
    """(a) the limit: token ids straight to tensorrt_llm over one gRPC stream per request."""
    request = UpstreamRequest(input_ids=ids, max_new_tokens=max_tokens, end_id=-1, pad_id=151643)

    async def run() -> Sample:
        sample = Sample(time.perf_counter())
        async for chunk in upstream.generate(request):
            if chunk.token_ids:
                sample.add(len(chunk.token_ids), time.perf_counter())
        return sample

    return run


def triton_generate_stream(
    client: httpx.AsyncClient, url: str, prompt: str, max_tokens: int, count_tokens: Callable[[str], int]
) -> Client:
    """(b) Triton's own HTTP generate_stream on the ensemble (the seed's curl path)."""
    body = {"text_input": prompt, "max_tokens": max_tokens, "stream": True, "end_id": -1}

    async def run() -> Sample:
        sample = Sample(time.perf_counter())
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    text = json.loads(line[6:]).get("text_output", "")
                    if text:
                        sample.add(count_tokens(text), time.perf_counter())
        return sample

    return run


def proxy_chat(
    client: httpx.AsyncClient, url: str, messages: list[dict[str, str]], max_tokens: int, stream: bool
) -> Client:
    """(c) and (d): our proxy, streaming or not. Tokens are counted from the usage the proxy reports."""
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
            data = response.json()
            sample.add(data["usage"]["completion_tokens"], time.perf_counter())
            return sample
        async with client.stream("POST", url, json=body) as response:
            deltas = 0
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if event.get("usage"):
                    total = event["usage"]["completion_tokens"]
                    sample.tokens = total  # spread any multi-token deltas over the arrivals seen
                    if len(sample.arrivals) < total and sample.arrivals:
                        sample.arrivals.extend([sample.arrivals[-1]] * (total - len(sample.arrivals)))
                elif event["choices"] and event["choices"][0]["delta"].get("content"):
                    deltas += 1
                    sample.arrivals.append(time.perf_counter())
        return sample

    return run
