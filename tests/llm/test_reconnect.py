"""A proxy started long before its Triton (or a Triton down for minutes) is ready soon after Triton comes up: the
gRPC channel's reconnect backoff is bounded (gRPC's default grows to 120 s)."""

from __future__ import annotations

import asyncio
import time

import grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc
from trtllm_nix.llm.triton_client import MAX_RECONNECT_BACKOFF_MS, TritonUpstream
from trtllm_nix.triton.ports import free_ports


class _Ready(service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    async def ServerReady(self, request: object, context: object) -> service_pb2.ServerReadyResponse:
        return service_pb2.ServerReadyResponse(ready=True)

    async def ModelReady(self, request: object, context: object) -> service_pb2.ModelReadyResponse:
        return service_pb2.ModelReadyResponse(ready=True)


def test_ready_soon_after_a_late_triton_comes_up() -> None:
    port = free_ports(1)[0]

    async def run() -> float:
        upstream = TritonUpstream(f"127.0.0.1:{port}")
        try:
            down_until = time.monotonic() + 30  # gRPC's default backoff is past 10 s by then
            while time.monotonic() < down_until:
                assert not await upstream.ready(timeout=1.0)
                await asyncio.sleep(0.5)
            server = grpc.aio.server()
            service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(_Ready(), server)
            server.add_insecure_port(f"127.0.0.1:{port}")
            await server.start()
            up = time.monotonic()
            try:
                while not await upstream.ready(timeout=1.0):
                    assert time.monotonic() - up < 60, "never ready"
                    await asyncio.sleep(0.1)
                return time.monotonic() - up
            finally:
                await server.stop(None)
        finally:
            await upstream.close()

    took = asyncio.run(run())
    assert took < MAX_RECONNECT_BACKOFF_MS / 1000 * 1.2 + 2, took
