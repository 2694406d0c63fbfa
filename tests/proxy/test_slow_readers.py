"""A client that stops reading: the proxy buffers a bounded amount (a bounded queue, then the socket), stops
pulling tokens from the upstream, and cuts the stream off once nothing could be delivered for the stall timeout,
which cancels the upstream request."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from trtllm_nix.llm.triton_client import UpstreamChunk, UpstreamRequest
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import wait_until
from tests.proxy.fake_upstream import FakeUpstream


@pytest.mark.parametrize("n", [1, 4])
def test_a_stalled_reader_is_cut_off_and_its_generations_cancelled(
    assets: Assets, tokenizer: Tokenizer, n: int
) -> None:
    word = tokenizer.encode(" word", add_special_tokens=False).ids
    pulled = [0]

    def endless(_: UpstreamRequest) -> Iterator[UpstreamChunk]:
        while True:  # 64 tokens a chunk, never final: only a cancellation ends it
            pulled[0] += 1
            yield UpstreamChunk(word * 64, None, False)

    upstream = FakeUpstream(endless, gap=0.001)  # type: ignore[arg-type]
    settings = ProxySettings(  # a context the answer cannot fill while the test runs
        tokenizer=assets.tokenizer, port=free_ports(1)[0], stall_timeout=1.0, max_model_len=20_000_000
    )
    body = json.dumps({"model": "qwen3", "prompt": "go", "stream": True, "max_tokens": 10_000_000, "n": n}).encode()
    with ProxyThread(settings, upstream=upstream) as proxy:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", proxy.settings.port))
        try:
            client.sendall(
                b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            # the client reads nothing more: the proxy must give up on it and cancel the generation
            wait_until(lambda: upstream.endings == ["cancelled"] * n, 30, "the stalled stream to be cut off")
        finally:
            client.close()
    # what was pulled is bounded by the queue and the socket buffers (the kernel's send buffer grows to tcp_wmem's
    # maximum), not by how long the client stalled: at least 320 bytes of SSE a chunk
    send_buffer_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    assert pulled[0] * 320 < 2 * send_buffer_max + (1 << 20), pulled[0]
