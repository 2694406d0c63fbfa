"""The SSE response on a real socket: status, headers and keep-alives at once, before a long prefill ends; a
client that leaves during the prefill cancels the upstream request."""

from __future__ import annotations

import time

import httpx
from tokenizers import Tokenizer
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import wait_until
from tests.proxy.fake_upstream import FakeUpstream, pieces

PREFILL_S = 120.0  # far longer than any wait below: the answer cannot arrive in the test's lifetime


def test_headers_and_keepalives_come_before_a_long_prefill(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["late"]), gap=PREFILL_S)
    settings = ProxySettings(tokenizer=assets.tokenizer, port=free_ports(1)[0], keepalive_seconds=0.2)
    body = {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with ProxyThread(settings, upstream=upstream) as proxy:
        started = time.monotonic()
        with httpx.stream("POST", proxy.base_url + "/v1/chat/completions", json=body, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            seen = [next(lines) for _ in range(4)]
        assert time.monotonic() - started < 30
        assert '"role":"assistant"' in seen[0]
        assert ": keep-alive" in seen
        wait_until(lambda: upstream.endings == ["cancelled"], 30, "the upstream request to be cancelled")
