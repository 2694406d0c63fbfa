"""Several Triton upstreams: least-in-flight routing, an upstream killed under load, and its return."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import wait_until
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import chat
from tests.reliability.conftest import Factory, restart

# 0.6 s an answer: eight sent at once are all in flight together, however loaded the machine (three tokens at
# 20 ms could finish before the next was sent, and least-in-flight then chose the first upstream every time)
LONG = "word " * 30 + "#delay_ms:20"


def test_two_upstreams_share_the_load_and_survive_losing_one(triton_factory: Factory, assets: Assets) -> None:
    first, second = triton_factory("first"), triton_factory("second")
    proxy = start_proxy(first, assets, triton=f"{first.server.grpc_url},{second.server.grpc_url}")
    url = proxy.base_url + "/v1/chat/completions"

    def ask(reply: str) -> httpx.Response:
        return httpx.post(url, json=chat(reply), timeout=60)

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, [f"spread {i} {LONG}" for i in range(8)]))
        assert all(a.status_code == 200 for a in answers)
        assert first.stats()["finished"] >= 2, "least in flight spreads the load"
        assert second.stats()["finished"] >= 2, "least in flight spreads the load"

        assert first.server.pid is not None
        os.killpg(first.server.pid, signal.SIGKILL)
        with ThreadPoolExecutor(8) as pool:
            after = list(pool.map(ask, [f"after {i}" for i in range(16)]))
        assert [a.status_code for a in after] == [200] * 16, "no request that had not started streaming is lost"
        assert [a.json()["choices"][0]["message"]["content"] for a in after] == [f"after {i}" for i in range(16)]
        ready = httpx.get(proxy.base_url + "/health/ready").json()
        assert [u["healthy"] for u in ready["upstreams"]] == [False, True]

        first.stats_file.unlink()  # the restarted backend counts from zero
        restart(first)
        wait_until(
            lambda: httpx.get(proxy.base_url + "/health/ready").json()["upstreams"][0]["healthy"],
            10,
            "the restarted upstream back in rotation",
        )
        with ThreadPoolExecutor(8) as pool:
            again = list(pool.map(ask, [f"again {i} {LONG}" for i in range(8)]))
        assert all(a.status_code == 200 for a in again)
        assert first.stats()["finished"] > 0, "the restarted upstream takes requests again"
    finally:
        proxy.stop()
