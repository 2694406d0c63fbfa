"""Run the reference ``TrtllmService``: in a thread of this process (tests, the demo), or until a signal
(``serve``: the process of ``trtllm_nix_testkit.reference.trtllm_serve``, the stand-in for ``trtllm-serve --grpc``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from smg_grpc_proto import trtllm_service_pb2_grpc as pb_grpc
from trtllm_nix.llm.model_files import ModelFiles

from trtllm_nix_testkit.reference.engine import InflightEngine
from trtllm_nix_testkit.reference.generators import Generator, HfGenerator, ScriptedGenerator
from trtllm_nix_testkit.reference.guided import GrammarEngine
from trtllm_nix_testkit.reference.stats import StatsFile
from trtllm_nix_testkit.reference.trtllm_request import ServedModel
from trtllm_nix_testkit.reference.trtllm_service import ReferenceTrtllmServicer


@dataclass(frozen=True)
class ReferenceModel:
    """What the server generates with: ``scripted`` (replays ``#reply:``) or ``hf`` (the causal LM in ``model_dir``)."""

    backend: str
    tokenizer_dir: Path
    max_seq_len: int
    model_id: str = "qwen3"
    model_dir: Path | None = None
    guided_decoding: Path | None = None  # xgrammar tokenizer info (repo.tokenizer_info): guides on, else refused
    stats_file: Path | None = None


def build_servicer(
    model: ReferenceModel, parallel: tuple[int, int] = (1, 1)
) -> tuple[ReferenceTrtllmServicer, InflightEngine, StatsFile]:
    files = ModelFiles.load(model.tokenizer_dir)
    grammar = GrammarEngine(model.guided_decoding, _vocab_size(model)) if model.guided_decoding is not None else None
    generator: Generator
    if model.backend == "scripted":
        generator = ScriptedGenerator(model.tokenizer_dir, grammar=grammar)
    elif model.backend == "hf":
        if model.model_dir is None:
            raise ValueError("the hf backend needs a model folder")
        generator = HfGenerator(model.model_dir, grammar=grammar)  # cuda where there is one
    else:
        raise ValueError(f"unknown reference backend {model.backend!r}; use scripted or hf")
    stats = StatsFile(model.stats_file)
    engine = InflightEngine(generator, stats)
    served = ServedModel(files.tokenizer, files.eos_token_id, model.max_seq_len)
    return ReferenceTrtllmServicer(engine, served, model.model_id, parallel), engine, stats


def _vocab_size(model: ReferenceModel) -> int | None:
    """The model's own (padded) vocabulary, which the grammar's masks must cover (the scripted one has none)."""
    config = model.model_dir / "config.json" if model.model_dir is not None else None
    if config is None or not config.is_file():
        return None
    size = json.loads(config.read_text("utf-8")).get("vocab_size")
    return int(size) if size else None


class TrtllmServiceThread:
    """The reference server on ``host`` (a port the kernel picks), its event loop in a thread of its own."""

    def __init__(self, model: ReferenceModel, host: str = "127.0.0.1") -> None:
        self.servicer, self._engine, self.stats = build_servicer(model)
        self._host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._stopped = False
        self._thread = threading.Thread(target=self._loop.run_forever, name="reference-trtllm", daemon=True)

    @property
    def target(self) -> str:
        return f"{self._host}:{self.port}"

    def start(self) -> TrtllmServiceThread:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> int:
        self._server = grpc.aio.server()
        pb_grpc.add_TrtllmServiceServicer_to_server(self.servicer, self._server)
        port = int(self._server.add_insecure_port(f"{self._host}:0"))
        await self._server.start()
        return port

    def stop(self) -> None:
        """Stop serving (a second call does nothing: tests stop a server mid-test and again at the end)."""
        if self._stopped or self._server is None:
            return
        self._stopped = True
        asyncio.run_coroutine_threadsafe(self._server.stop(grace=1), self._loop).result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
        self._loop.close()
        self._engine.shutdown()

    def __enter__(self) -> TrtllmServiceThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve(model: ReferenceModel, host: str, port: int, parallel: tuple[int, int] = (1, 1)) -> None:
    """Serve until SIGTERM or SIGINT (``trtllm_nix_testkit.reference.trtllm_serve``, the trtllm-serve stand-in)."""
    servicer, engine, _ = build_servicer(model, parallel)
    server = grpc.aio.server()
    pb_grpc.add_TrtllmServiceServicer_to_server(servicer, server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise SystemExit(f"cannot listen on {host}:{port}")
    await server.start()
    print(f"reference TrtllmService ({model.backend}) on {host}:{port}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(grace=2)
    engine.shutdown()
