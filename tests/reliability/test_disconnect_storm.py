"""1000 requests, a random half of the clients leaving mid-answer: every cancellation reaches the backend, the
in-flight gauge returns to 0, and no task is left behind.

A leaver asks for an answer that cannot finish before it is cancelled (``ignore_eos`` and 4000 tokens at 15 ms each,
a minute), so a cancellation that arrives late is still counted as one: the exact count does not depend on how fast
the proxy or the backend happen to be on a loaded machine. Completers get the short answer. Bounded: 1000 requests.
The proxy runs as a process of its own, so it does not share the GIL with the 50 streaming clients."""

from __future__ import annotations

import asyncio
import random
import re

import httpx
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyProcess

from tests.helpers import wait_until
from tests.proxy.sse import chat
from tests.reliability.conftest import Factory

REQUESTS, CONCURRENCY = 1000, 50
REPLY = "one " + "word " * 30 + "#delay_ms:15"  # about 0.5 s per complete answer
ENDLESS = {"ignore_eos": True, "max_tokens": 4000}  # a minute at 15 ms a token: a leaver always leaves mid-answer


def test_disconnect_storm(triton_factory: Factory, assets: Assets) -> None:
    triton = triton_factory("storm")
    proxy = ProxyProcess(["--tokenizer", str(assets.tokenizer), "--triton", triton.server.grpc_url], free_ports(1)[0])
    proxy.start()
    baseline_tasks = _tasks(proxy)
    rng = random.Random(1127)
    leavers = set(rng.sample(range(REQUESTS), REQUESTS // 2))
    outcome = {"complete": 0, "left": 0}

    async def one(index: int, client: httpx.AsyncClient) -> None:
        body = chat(REPLY, stream=True, **(ENDLESS if index in leavers else {}))
        async with client.stream("POST", proxy.base_url + "/v1/chat/completions", json=body) as r:
            text = []
            async for line in r.aiter_lines():
                if index in leavers and line.startswith("data: ") and '"content":"one' in line:
                    outcome["left"] += 1
                    # the first words ("one", or more when a loaded proxy sends several tokens in one event)
                    return  # leave mid-answer: the connection is closed with the stream
                if line.startswith("data: {") and '"content"' in line:
                    text.append(line)
            outcome["complete"] += 1

    async def storm() -> None:
        queue = list(range(REQUESTS))
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def worker() -> None:
                while queue:
                    await one(queue.pop(), client)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    try:
        asyncio.run(storm())
        assert outcome == {"complete": REQUESTS // 2, "left": REQUESTS // 2}
        wait_until(lambda: triton.stats()["active"] == 0, 60, "the backend to settle")
        stats = triton.stats()
        assert stats["started"] == REQUESTS
        assert stats["cancelled"] == REQUESTS // 2, stats
        assert stats["finished"] == REQUESTS // 2
        settled = ("trtllm_nix_requests_in_flight 0.0", f"trtllm_nix_cancellations_total {REQUESTS // 2}.0")
        wait_until(
            lambda: all(line in httpx.get(proxy.base_url + "/metrics").text for line in settled),
            30,
            "the proxy's gauges to settle",
        )
        wait_until(lambda: _tasks(proxy) <= baseline_tasks, 30, "no task left behind")
    finally:
        proxy.stop()


def _tasks(proxy: ProxyProcess) -> float:
    match = re.search(r"^trtllm_nix_event_loop_tasks (\S+)$", httpx.get(proxy.base_url + "/metrics").text, re.M)
    assert match is not None
    return float(match.group(1))
