"""The path one streamed chat request takes through the proxy's modules (issue 34): the app runs in-process over a
scripted upstream (no Triton, no sockets), one warm-up request, then one traced request under ``sys.setprofile``
(and ``threading.setprofile``, so the work sent off the loop is seen too).

The trace lists the ``trtllm_nix`` module of every function called, in call order (a generator or coroutine
resumed after a ``yield``/``await`` is not a call; library frames and the methods dataclasses generate, such as a
value's ``__init__``, are skipped): each change of module is a *visit*,
and a *return* is a visit to a module visited before (visits minus modules). Two phases are reported: ``prepare``
(the route's handler, from its call to the response it returns: checks, template, tokenizer, guide, upstream
request) and ``stream`` (everything after: the generation, parsers, renderer and SSE, per token). The issue's goal
is for ``prepare``: at most 8 modules, 3 returns.

    python bench/request_path.py [--tokens 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import dis
import json
import sys
import threading
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import httpx
from starlette.responses import Response
from tokenizers import Tokenizer
from trtllm_nix.llm.upstream_types import UpstreamChunk, UpstreamRequest
from trtllm_nix.proxy import routes
from trtllm_nix.proxy.app import create_app
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix_testkit.assets.build import default_cache_dir, ensure_assets

PACKAGE = "trtllm_nix"
ROUTE = "/v1/chat/completions"


@dataclass
class ScriptedUpstream:
    """A token source that answers every request with the same words, one response per word, then a final one."""

    ids: list[list[int]]
    url: str = "scripted://request-path"

    async def generate(self, request: UpstreamRequest) -> AsyncGenerator[UpstreamChunk, None]:
        for ids in self.ids:
            yield UpstreamChunk(ids, None, False)
        yield UpstreamChunk([], None, True)


@dataclass
class Trace:
    """Modules in the order execution moved into them, per phase."""

    boundary: Any  # the route handler's code object: its return ends ``prepare``
    phase: str = "before"
    paths: dict[str, list[str]] = field(default_factory=lambda: {"before": [], "prepare": [], "stream": []})
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def module(frame: FrameType | None) -> str | None:
        if frame is None or frame.f_code.co_filename.startswith("<"):  # a dataclass's generated __init__, __eq__...
            return None
        name = frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith(PACKAGE + "."):
            return name.removeprefix(PACKAGE + ".")
        return None

    def hook(self, frame: FrameType, event: str, arg: object) -> None:
        if event not in ("call", "return"):
            return
        with self.lock:
            if event == "call" and frame.f_code is self.boundary and self.phase == "before":
                self.phase = "prepare"
            where = self.module(frame) if event == "call" and fresh(frame) else None
            if where is not None:
                path = self.paths[self.phase]
                if not path or path[-1] != where:
                    path.append(where)
            # a coroutine's frame "returns" at every await too: the handler is done when it returns its Response
            done = event == "return" and isinstance(arg, Response) and frame.f_code is self.boundary
            if done and self.phase == "prepare":
                self.phase = "stream"
                self.paths["stream"].append(self.paths["prepare"][-1])


@cache
def _entry(code: CodeType) -> int:
    """Where a call of ``code`` starts running: its ``RESUME`` (after a generator's or coroutine's prologue)."""
    return min((i.offset for i in dis.get_instructions(code) if i.opname == "RESUME"), default=0)


def fresh(frame: FrameType) -> bool:
    """A call, not a generator or coroutine resumed after a ``yield``/``await`` (the profiler reports both)."""
    return frame.f_lasti <= _entry(frame.f_code)


def summary(path: list[str]) -> dict[str, Any]:
    modules = list(dict.fromkeys(path))
    return {"modules": len(modules), "visits": len(path), "returns": len(path) - len(modules), "path": path}


def post(app: Any, body: dict[str, Any], trace: Trace | None) -> bytes:
    async def run() -> bytes:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            if trace is not None:
                threading.setprofile(trace.hook)  # type: ignore[arg-type]
                sys.setprofile(trace.hook)  # type: ignore[arg-type]
            try:
                response = await client.post(ROUTE, json=body)
            finally:
                sys.setprofile(None)
                threading.setprofile(None)  # type: ignore[arg-type]
            response.raise_for_status()
            return response.content

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=8, help="words the scripted upstream answers with")
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = parser.parse_args()
    assets = ensure_assets(default_cache_dir(), real_models=False)
    tokenizer = Tokenizer.from_file(str(Path(assets.tokenizer) / "tokenizer.json"))
    words = [tokenizer.encode(f" word{i}", add_special_tokens=False).ids for i in range(args.tokens)]
    app = create_app(ProxySettings(tokenizer=assets.tokenizer), upstream=ScriptedUpstream(words))
    body = {"model": "default", "stream": True, "messages": [{"role": "user", "content": "Say some words."}]}
    body["model"] = ProxySettings(tokenizer=assets.tokenizer).model_name
    post(app, body, None)  # warm: templates compiled, caches filled
    trace = Trace(routes.chat_completions.__code__)
    answer = post(app, body, trace)
    assert b"[DONE]" in answer, answer[-200:]
    result = {phase: summary(trace.paths[phase]) for phase in ("prepare", "stream")}
    result["stream"]["modules_list"] = sorted(set(trace.paths["stream"]))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for phase in ("prepare", "stream"):
        found = result[phase]
        print(f"{phase}: {found['modules']} modules, {found['visits']} visits, {found['returns']} returns")
        if phase == "prepare":
            print("  " + " -> ".join(found["path"]))
        else:
            print("  modules: " + ", ".join(found["modules_list"]))


if __name__ == "__main__":
    main()
