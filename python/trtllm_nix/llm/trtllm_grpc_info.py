"""What a ``TrtllmService`` says about the model it serves (``GetModelInfo``, ``GetServerInfo``), read once when the
proxy starts: the context length the proxy may promise comes from it, as the Triton lane's comes from the
repository's manifest. Blocking (a plain gRPC channel): the app is built before its event loop runs."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from smg_grpc_proto import trtllm_service_pb2 as pb
from smg_grpc_proto import trtllm_service_pb2_grpc as pb_grpc

from trtllm_nix.errors import UserError
from trtllm_nix.llm.limits import EngineLimits


@dataclass(frozen=True)
class ServerInfo:
    target: str
    model_id: str
    max_seq_len: int  # 0: the server does not say (trtllm-serve started without --max_seq_len and no input limit)
    max_input_len: int
    tensor_parallel_size: int

    @property
    def limits(self) -> EngineLimits | None:
        if self.max_seq_len <= 0:
            return None
        return EngineLimits(self.max_seq_len, self.max_input_len or self.max_seq_len)


def read_server_info(target: str, wait_s: float) -> ServerInfo:
    """Ask ``target`` (host:port), waiting up to ``wait_s`` for it to come up (a model loads for minutes)."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.TrtllmServiceStub(channel)
        try:
            model = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=wait_s, wait_for_ready=True)
            server = stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=wait_s, wait_for_ready=True)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else None
            detail = error.details() if isinstance(error, grpc.Call) else str(error)
            raise UserError(
                f"the TrtllmService at {target} did not answer GetModelInfo/GetServerInfo within {wait_s:.0f} s "
                f"({code}: {detail}); start trtllm-serve MODEL --grpc there, or raise --upstream-wait"
            ) from error
    return ServerInfo(
        target=target,
        model_id=model.model_id,
        max_seq_len=model.max_seq_len,
        max_input_len=model.max_input_len,
        tensor_parallel_size=server.tensor_parallel_size,
    )


def served_limits(infos: list[ServerInfo]) -> EngineLimits | None:
    """One limit for a pool: every server must report the same (a request may go to any of them)."""
    limits = {info.limits for info in infos}
    if len(limits) > 1:
        seen = ", ".join(f"{info.target}: max_seq_len {info.max_seq_len}" for info in infos)
        raise UserError(f"the TrtllmService upstreams of one model report different limits ({seen})")
    return limits.pop()
