"""CPU per streamed token of the ways a Python front end can receive tensorrt_llm's token stream (goal: 50 us).

Same real tritonserver and scripted reference backend as side_by_side.py; every variant only receives and counts
tokens (no HTTP serving, no detokenizer), so each row is a floor for a front end built on it:
  aio            grpc.aio, one message per token: what our proxy does today (bench/grpc_floor.py's first row);
  thread-batch   the synchronous gRPC client, each stream on its own thread, tokens handed to the asyncio loop in
                 batches (one call_soon_threadsafe per batch, not per token);
  sse-fast       Triton's HTTP generate_stream on tensorrt_llm itself (no ensemble), read from a raw asyncio socket
                 with a byte-level parser (no json.loads per event);
  one-message    non-streaming request: every token in one gRPC message, the limit of "more than one token per
                 upstream message" (TensorRT-LLM's Triton backend sends one response per token when streaming).
Prints microseconds of this process's CPU per token (gRPC's own threads included) and tokens/s for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from tokenizers import Tokenizer
from tritonclient.grpc import service_pb2_grpc
from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamRequest, build_infer_request, parse_response
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_IDS = re.compile(rb'"output_ids":\[?(-?\d+(?:,-?\d+)*)')


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def gated(concurrency: int, requests: int, one: Callable[[], Any]) -> int:
    gate = asyncio.Semaphore(concurrency)

    async def run() -> int:
        async with gate:
            return int(await one())

    return sum(await asyncio.gather(*(run() for _ in range(requests))))


def variant_aio(grpc_url: str, request: UpstreamRequest, concurrency: int, requests: int) -> int:
    async def go() -> int:
        upstream = TritonUpstream(grpc_url)

        async def one() -> int:
            return sum([len(c.token_ids) async for c in upstream.generate(request)])

        try:
            return await gated(concurrency, requests, one)
        finally:
            await upstream.close()

    return asyncio.run(go())


def variant_thread_batch(grpc_url: str, request: UpstreamRequest, concurrency: int, requests: int) -> int:
    channel = grpc.insecure_channel(grpc_url)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
    message = build_infer_request("tensorrt_llm", request)

    async def go() -> int:
        loop = asyncio.get_running_loop()

        async def one() -> int:
            pending: deque[list[int] | None] = deque()
            wake = asyncio.Event()

            def receive() -> None:  # on its own thread: parse there, wake the loop once per batch
                for response in stub.ModelStreamInfer(iter([message])):
                    was_empty = not pending
                    pending.append(parse_response(response.infer_response).token_ids)
                    if was_empty:
                        loop.call_soon_threadsafe(wake.set)
                pending.append(None)
                loop.call_soon_threadsafe(wake.set)

            threading.Thread(target=receive, daemon=True).start()
            total = 0
            while True:
                await wake.wait()
                wake.clear()
                while pending:
                    ids = pending.popleft()
                    if ids is None:
                        return total
                    total += len(ids)

        return await gated(concurrency, requests, one)

    try:
        return asyncio.run(go())
    finally:
        channel.close()


def variant_one_message(grpc_url: str, request: UpstreamRequest, concurrency: int, requests: int) -> int:
    message = build_infer_request("tensorrt_llm", request)
    streaming = [i.name for i in message.inputs].index("streaming")
    message.raw_input_contents[streaming] = np.asarray([[False]], dtype=np.bool_).tobytes()

    async def go() -> int:
        channel = grpc.aio.insecure_channel(grpc_url)
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]

        async def one() -> int:
            total = 0
            async for response in stub.ModelStreamInfer(iter([message])):
                total += len(parse_response(response.infer_response).token_ids)
            return total - len(request.input_ids)  # not streaming, TensorRT-LLM returns the prompt too

        try:
            return await gated(concurrency, requests, one)
        finally:
            await channel.close()

    return asyncio.run(go())


def variant_sse_fast(http_url: str, request: UpstreamRequest, concurrency: int, requests: int) -> int:
    host, port = http_url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps(
        {
            "input_ids": request.input_ids,
            "input_lengths": [len(request.input_ids)],
            "request_output_len": [request.max_new_tokens],
            "end_id": [request.end_id],
            "pad_id": [request.pad_id],
            "streaming": [True],
        }
    ).encode()
    head = (
        f"POST /v2/models/tensorrt_llm/generate_stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one() -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head + body)
        total, buffer = 0, b""
        while chunk := await reader.read(65536):
            buffer += chunk
            cut = buffer.rfind(b"\n\n")
            if cut < 0:
                continue
            events, buffer = buffer[:cut], buffer[cut + 2 :]
            if b'"error"' in events:
                raise RuntimeError(events[-300:].decode(errors="replace"))
            for ids in OUTPUT_IDS.findall(events):
                total += ids.count(b",") + 1
        writer.close()
        return total

    return asyncio.run(gated(concurrency, requests, one))


VARIANTS = {
    "aio": variant_aio,
    "thread-batch": variant_thread_batch,
    "one-message": variant_one_message,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2, help="measured runs of each variant (after one warm-up)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    assets = ensure_assets(ROOT / ".cache" / "trtllm-nix", real_models=False)
    tokenizer = Tokenizer.from_file(str(assets.tokenizer / "tokenizer.json"))
    prompt = "<|im_start|>user\n#reply: " + "word " * 600 + "<|im_end|>\n<|im_start|>assistant\n"
    request = UpstreamRequest(
        input_ids=tokenizer.encode(prompt).ids, max_new_tokens=args.tokens, end_id=-1, pad_id=151643
    )
    work = Path(tempfile.mkdtemp(prefix="cpu-per-token-"))
    repo = write_reference_repository(
        work / "repo", "scripted", assets.tokenizer, max_batch_size=256, guided_decoding=False
    )
    results: dict[str, Any] = {"concurrency": args.concurrency, "requests": args.requests, "tokens": args.tokens}
    with TritonServer(TritonRuntime.from_wheel(), repo, work / "triton") as triton:
        runs: list[tuple[str, Callable[[], int]]] = [
            (name, lambda v=variant: v(triton.grpc_url, request, args.concurrency, args.requests))  # type: ignore[misc]
            for name, variant in VARIANTS.items()
        ]
        runs.append(("sse-fast", lambda: variant_sse_fast(triton.http_url, request, args.concurrency, args.requests)))
        for name, run in runs:
            try:
                run()  # warm-up
            except Exception as error:  # a variant the server refuses is reported, the others still run
                results[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
                print(f"{name:<14} failed: {results[name]['error']}", flush=True)
                continue
            readings = []
            for _ in range(args.repeat):
                cpu, started = cpu_seconds(), time.perf_counter()
                tokens = run()
                elapsed = time.perf_counter() - started
                readings.append(
                    {"us_per_token": 1e6 * (cpu_seconds() - cpu) / tokens, "tokens_per_s": tokens / elapsed}
                )
            complete = tokens == args.requests * args.tokens  # every variant must receive every token
            results[name] = {"runs": readings, "tokens": tokens, "complete": complete}
            shown = ", ".join(f"{r['us_per_token']:.1f} us/tok at {r['tokens_per_s']:.0f} tok/s" for r in readings)
            print(f"{name:<14} {shown}" + ("" if complete else f"  INCOMPLETE: {tokens} tokens"), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
