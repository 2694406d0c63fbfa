"""Tritonservers these tests may kill and restart (on the same ports), each with its own stats file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import Ports, TritonServer

from tests.helpers import RunningTriton
from tests.proxy.conftest import scripted_proxy  # noqa: F401 - the shared proxy fixture, for these tests too

Factory = Callable[[str], RunningTriton]


@pytest.fixture
def triton_factory(tmp_path: Path, runtime: TritonRuntime, assets: Assets) -> Iterator[Factory]:
    started: list[TritonServer] = []

    def make(name: str) -> RunningTriton:
        stats = tmp_path / f"{name}-stats.json"
        repo = write_reference_repository(tmp_path / f"{name}-repo", "scripted", assets.tokenizer, None, stats)
        server = TritonServer(runtime, repo, tmp_path / f"{name}-work", ports=Ports.pick(), exit_timeout=2)
        server.start()
        started.append(server)
        return RunningTriton(server, stats)

    yield make
    for server in started:
        server.stop()


def restart(triton: RunningTriton) -> None:
    """Start the same server again on the same ports (after a kill)."""
    triton.server.stop()
    triton.server.start()
