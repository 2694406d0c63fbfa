"""The floor under the proxy's CPU cost: what a bare Python process spends per token just to receive Triton's
token stream over gRPC (asyncio client, and the synchronous client in threads), with nothing else done.
Same scripted backend and prompt as proxy_overhead.py; prints microseconds of CPU per token for each."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from tokenizers import Tokenizer
from tritonclient.grpc import service_pb2_grpc
from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamRequest, build_infer_request, parse_response
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    assets = ensure_assets(ROOT / ".cache" / "trtllm-nix")
    tokenizer = Tokenizer.from_file(str(assets.tokenizer / "tokenizer.json"))
    prompt = "<|im_start|>user\n#reply: " + "word " * 300 + "<|im_end|>\n<|im_start|>assistant\n"
    request = UpstreamRequest(
        input_ids=tokenizer.encode(prompt).ids, max_new_tokens=args.tokens, end_id=-1, pad_id=151643
    )
    work = Path(tempfile.mkdtemp(prefix="grpc-floor-"))
    repo = write_reference_repository(work / "repo", "scripted", assets.tokenizer, max_batch_size=256)
    with TritonServer(TritonRuntime.from_wheel(), repo, work / "triton") as triton:

        async def with_asyncio() -> int:
            upstream = TritonUpstream(triton.grpc_url)
            gate = asyncio.Semaphore(args.concurrency)
            counts: list[int] = []

            async def one() -> None:
                async with gate:
                    counts.append(sum([len(c.token_ids) async for c in upstream.generate(request)]))

            await asyncio.gather(*(one() for _ in range(args.requests)))
            await upstream.close()
            return sum(counts)

        channel = grpc.insecure_channel(triton.grpc_url)
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
        message = build_infer_request("tensorrt_llm", request)

        def with_threads() -> int:
            remaining, total, lock = [args.requests], [0], threading.Lock()

            def worker() -> None:
                while True:
                    with lock:
                        if remaining[0] == 0:
                            return
                        remaining[0] -= 1
                    got = sum(
                        len(parse_response(r.infer_response).token_ids) for r in stub.ModelStreamInfer(iter([message]))
                    )
                    with lock:
                        total[0] += got

            threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return total[0]

        for name, run in (("grpc.aio", lambda: asyncio.run(with_asyncio())), ("grpc sync, threads", with_threads)):
            run()  # warm-up
            cpu, started = cpu_seconds(), time.perf_counter()
            tokens = run()
            elapsed = time.perf_counter() - started
            print(f"{name:<20} {1e6 * (cpu_seconds() - cpu) / tokens:6.1f} us CPU/token  {tokens / elapsed:7.0f} tok/s")
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
