"""The harness starts the real tritonserver, reports failures in one line, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from trtllm_nix.errors import ServerError, SetupError
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import Ports, TritonServer


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_taken_port_is_refused_before_start(tmp_path: Path, runtime: TritonRuntime, assets: Assets) -> None:
    repo = write_reference_repository(tmp_path / "repo", "scripted", assets.tokenizer)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        free = Ports.pick()
        server = TritonServer(runtime, repo, tmp_path / "work", ports=Ports(free.http, taken, free.metrics))
        with pytest.raises(SetupError, match=rf"^gRPC port {taken} on 127.0.0.1 is taken"):
            server.start()
    assert server.pid is None


def test_model_that_fails_to_load_is_named(tmp_path: Path, runtime: TritonRuntime, assets: Assets) -> None:
    repo = write_reference_repository(tmp_path / "repo", "hf", assets.tokenizer, tmp_path / "no-such-model")
    server = TritonServer(runtime, repo, tmp_path / "work", ready_timeout=60)
    with pytest.raises(ServerError, match=r"^model 'tensorrt_llm' failed to load: .*no-such-model") as raised:
        server.start()
    assert "\n" not in str(raised.value)
    assert server.pid is None


def test_clean_stop_leaves_no_process_or_shared_memory(tmp_path: Path, runtime: TritonRuntime, assets: Assets) -> None:
    repo = write_reference_repository(tmp_path / "repo", "scripted", assets.tokenizer)
    server = TritonServer(runtime, repo, tmp_path / "work")
    server.start()
    pgid = server.pid
    assert pgid is not None
    prefix = server.command()[3].split("=")[-1]
    assert list(Path("/dev/shm").glob(f"{prefix}*"))
    assert server.stop() == 0
    assert not _group_alive(pgid)
    assert not list(Path("/dev/shm").glob(f"{prefix}*"))


def test_hung_server_is_killed_with_its_group(tmp_path: Path, runtime: TritonRuntime, assets: Assets) -> None:
    repo = write_reference_repository(tmp_path / "repo", "scripted", assets.tokenizer)
    server = TritonServer(runtime, repo, tmp_path / "work", exit_timeout=1)
    server.start()
    pgid = server.pid
    assert pgid is not None
    os.kill(pgid, signal.SIGSTOP)  # a server that ignores SIGTERM
    server.stop()
    assert not _group_alive(pgid)
