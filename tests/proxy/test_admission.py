"""Admission counts generations (a request with n choices is n upstream requests), and admits before the work of
preparing a request (template, tokenizer, grammar); ``--max-choices`` caps the generations of one request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import httpx
from tokenizers import Tokenizer
from trtllm_nix.llm.triton_client import UpstreamChunk, UpstreamRequest
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import app_with, pieces


class HeldUpstream:
    """Answers nothing until ``release`` is set; ``arrived(k)`` is set once k generations are waiting."""

    url = "held://upstream"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.requests: list[UpstreamRequest] = []
        self.release = asyncio.Event()
        self._waiters: dict[int, asyncio.Event] = {}

    def arrived(self, count: int) -> asyncio.Event:
        event = self._waiters.setdefault(count, asyncio.Event())
        if len(self.requests) >= count:
            event.set()
        return event

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        self.requests.append(request)
        for count, event in self._waiters.items():
            if len(self.requests) >= count:
                event.set()
        await self.release.wait()
        for chunk in pieces(self.tokenizer, ["ok"]):
            assert isinstance(chunk, UpstreamChunk)
            yield chunk


def soon(request: Awaitable[httpx.Response]) -> Awaitable[httpx.Response]:
    """An answer that must come without any generation finishing (a refusal): never a hang."""
    return asyncio.wait_for(request, 30)


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **fields}


def run(
    assets: Assets, tokenizer: Tokenizer, body: Callable[[httpx.AsyncClient, HeldUpstream], Awaitable[None]], **kw: Any
) -> HeldUpstream:
    async def main() -> HeldUpstream:
        upstream = HeldUpstream(tokenizer)
        app = app_with(assets.tokenizer, upstream, **kw)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as client:
            await body(client, upstream)
        return upstream

    return asyncio.run(main())


def test_choices_count_against_the_in_flight_limit(assets: Assets, tokenizer: Tokenizer) -> None:
    async def body(client: httpx.AsyncClient, upstream: HeldUpstream) -> None:
        held = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(n=3)))
        await asyncio.wait_for(upstream.arrived(3).wait(), 30)
        refused = await soon(client.post("/v1/chat/completions", json=chat(n=2)))
        assert refused.status_code == 429, refused.text
        assert "limit of 4 generations" in refused.json()["error"]["message"]
        fits = asyncio.ensure_future(client.post("/v1/completions", json={"model": "qwen3", "prompt": "x"}))
        await asyncio.wait_for(upstream.arrived(4).wait(), 30)
        upstream.release.set()
        assert [r.status_code for r in await asyncio.gather(held, fits)] == [200, 200]
        metrics = (await client.get("/metrics")).text
        assert "trtllm_nix_generations_in_flight 0.0" in metrics

    run(assets, tokenizer, body, max_in_flight=4)


def test_a_full_server_refuses_before_preparing(assets: Assets, tokenizer: Tokenizer) -> None:
    """The 429 comes before template rendering and tokenization: a prompt too long for the context, which
    preparing would refuse with a 400, gets the 429 of a full server."""

    async def body(client: httpx.AsyncClient, upstream: HeldUpstream) -> None:
        held = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat()))
        await asyncio.wait_for(upstream.arrived(1).wait(), 30)
        too_long = chat(messages=[{"role": "user", "content": "word " * 400_000}])
        for path, request in [
            ("/v1/chat/completions", too_long),
            ("/v1/completions", {"model": "qwen3", "prompt": "word " * 400_000}),
            ("/v1/responses", {"model": "qwen3", "input": "word " * 400_000}),
        ]:
            refused = await soon(client.post(path, json=request))
            assert refused.status_code == 429, (path, refused.text)
        upstream.release.set()
        assert (await held).status_code == 200

    run(assets, tokenizer, body, max_in_flight=1)


def test_max_choices_caps_one_request(assets: Assets, tokenizer: Tokenizer) -> None:
    async def body(client: httpx.AsyncClient, upstream: HeldUpstream) -> None:
        upstream.release.set()
        many = await client.post("/v1/chat/completions", json=chat(n=5))
        assert many.status_code == 400
        assert many.json()["error"]["param"] == "n"
        assert "at most 4" in many.json()["error"]["message"]
        prompts = await client.post("/v1/completions", json={"model": "qwen3", "prompt": ["a", "b", "c"], "n": 2})
        assert prompts.status_code == 400
        assert "3 prompts x n 2" in prompts.json()["error"]["message"]
        assert (await client.post("/v1/chat/completions", json=chat(n=4))).status_code == 200
        assert len(upstream.requests) == 4

    run(assets, tokenizer, body, max_choices=4)


def test_more_generations_than_the_whole_limit_is_a_400_not_a_429(assets: Assets, tokenizer: Tokenizer) -> None:
    """A 429 says "retry later"; a request that can never fit must say so."""

    async def body(client: httpx.AsyncClient, upstream: HeldUpstream) -> None:
        refused = await soon(client.post("/v1/chat/completions", json=chat(n=3)))
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["param"] == "n"
        assert upstream.requests == []

    run(assets, tokenizer, body, max_in_flight=2)
