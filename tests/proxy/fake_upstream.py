"""A fake ``TokenSource`` for fast tests of the proxy's lifecycle, parsers and renderers (no Triton): it answers
each request with a scripted list of responses and records how each stream ended (drained or cancelled).

It stands for one Triton ``tensorrt_llm`` stream as ``llm.triton_client.TritonUpstream`` yields it: chunks of
token ids (and logprobs), the last one flagged final. It cannot show gRPC or Triton behaviour; tests/reliability and
the rest of tests/proxy do that against a real tritonserver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from tokenizers import Tokenizer
from trtllm_nix.llm.triton_client import UpstreamChunk, UpstreamRequest
from trtllm_nix.proxy.app import create_app
from trtllm_nix.proxy.settings import ProxySettings

Script = list[UpstreamChunk | BaseException]


def served_repository(folder: Path, max_seq_len: int, guided: bool = False) -> Path:
    """The two files of a generated repository the proxy reads: the manifest (the engine's limits) and the
    ``tensorrt_llm`` config (whether it does guided decoding: xgrammar when ``guided``)."""
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "engine": {"max_seq_len": max_seq_len}}))
    (folder / "tensorrt_llm").mkdir()
    backend = "xgrammar" if guided else ""
    (folder / "tensorrt_llm" / "config.pbtxt").write_text(
        f'name: "tensorrt_llm"\nparameters {{ key: "guided_decoding_backend" value {{ string_value: "{backend}" }} }}\n'
    )
    return folder


@dataclass
class FakeUpstream:
    """``script(request)`` gives the responses; an exception in it is raised at that point of the stream."""

    script: Callable[[UpstreamRequest], Script]
    url: str = "fake://upstream"
    requests: list[UpstreamRequest] = field(default_factory=list)
    endings: list[str] = field(default_factory=list)  # "drained" or "cancelled", one per request
    gap: float = 0.0  # seconds between responses

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        self.requests.append(request)
        ending = "cancelled"
        try:
            for item in self.script(request):
                if self.gap:
                    await asyncio.sleep(self.gap)
                if isinstance(item, BaseException):
                    ending = "failed"
                    raise item
                yield item
            ending = "drained"
        finally:
            self.endings.append(ending)


def pieces(
    tokenizer: Tokenizer, texts: list[str], logprob: float | None = -0.5, final_ids: tuple[int, ...] = ()
) -> Script:
    """One response per text (its token ids), then a final response carrying ``final_ids`` (an end id, say)."""
    out: Script = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        out.append(UpstreamChunk(ids, [logprob] * len(ids) if logprob is not None else None, False))
    out.append(UpstreamChunk(list(final_ids), [logprob] * len(final_ids) if logprob is not None else None, True))
    return out


def app_with(tokenizer_dir: Path, upstream: FakeUpstream, **settings: Any) -> FastAPI:
    return create_app(ProxySettings(tokenizer=tokenizer_dir, **settings), upstream=upstream)


@contextmanager
def client_for(app: FastAPI) -> Iterator[httpx.Client]:
    """A synchronous client over the ASGI app (no sockets; the response body is read whole)."""

    class _Sync(httpx.BaseTransport):
        def __init__(self) -> None:
            self._asgi = httpx.ASGITransport(app=app)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            async def run() -> httpx.Response:
                response = await self._asgi.handle_async_request(request)
                body = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
                return httpx.Response(response.status_code, headers=response.headers, content=body)

            return asyncio.run(run())

    with httpx.Client(transport=_Sync(), base_url="http://proxy") as client:
        yield client
