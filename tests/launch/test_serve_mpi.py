"""``trtllm-nix serve`` at world size 2 with Debian's real mpirun and the real tritonserver. The reference backend
behaves like TensorRT-LLM's leader mode: rank 1 loads only tensorrt_llm and never finishes loading; rank 0 serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from trtllm_nix.processes import alive, descendants
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.repository import write_reference_repository

from tests.helpers import wait_until


@dataclass
class Served:
    process: subprocess.Popen[str]
    run_dir: Path
    http: str
    output: list[str]
    tree: list[int]


@pytest.fixture
def served(tmp_path: Path, assets: Assets) -> Iterator[Served]:
    repo = write_reference_repository(tmp_path / "repo", "scripted", assets.tokenizer, tp_size=2)
    http, grpc, metrics = free_ports(3)
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trtllm_nix.cli",
            "serve",
            "--repo",
            str(repo),
            "--http-port",
            str(http),
            "--grpc-port",
            str(grpc),
            "--metrics-port",
            str(metrics),
            "--run-dir",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if line.startswith("ready:") or "error" in line:
            break
    assert output[-1].startswith("ready:"), "".join(output)
    tree = descendants(process.pid)
    yield Served(process, run_dir, f"http://127.0.0.1:{http}", output, tree)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    process.stdout.close()
    assert alive(tree) == []


def _finish(served: Served) -> tuple[int, str]:
    assert served.process.stdout is not None
    rest = served.process.stdout.read()
    return served.process.wait(60), rest


def test_rank0_serves_rank1_is_a_worker_and_stop_is_clean(served: Served) -> None:
    body = httpx.post(
        f"{served.http}/v2/models/ensemble/generate", json={"text_input": "#reply: two ranks 🤝", "max_tokens": 16}
    ).json()
    assert body["text_output"] == "two ranks 🤝"
    rank1 = (served.run_dir / "rank1.log").read_text()
    assert "rank 1 is a leader-mode worker" in rank1
    assert "loading: tensorrt_llm" in rank1
    assert "loading: ensemble" not in rank1
    assert "loading: ensemble" in (served.run_dir / "rank0.log").read_text()
    prefixes = {p.name.split("_")[0] for p in Path("/dev/shm").iterdir() if p.name.startswith("prefix")}
    assert {"prefix0", "prefix1"} <= prefixes
    assert served.output[0].startswith("starting 2 rank(s) on GPU(s) 0,1")
    served.process.send_signal(signal.SIGTERM)
    code, _ = _finish(served)
    assert code == 0
    assert alive(served.tree) == []


@pytest.mark.parametrize("target", ["tritonserver", "rank wrapper"])
def test_a_dying_rank_stops_the_rest_and_is_named(served: Served, target: str) -> None:
    assert len(served.tree) >= 8, "mpirun, two rank wrappers, two tritonservers and their stubs"

    def argv(pid: int) -> list[str]:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace").split("\0")

    def is_target(args: list[str]) -> bool:
        wrapper = "trtllm_nix.launch.rank" in args[1:4]  # python -m MODULE, or python -c BOOT MODULE
        return (wrapper if target == "rank wrapper" else args[0].endswith("tritonserver")) and any(
            "prefix1_" in arg for arg in args
        )

    rank1 = next(pid for pid in served.tree if is_target(argv(pid)))
    os.kill(rank1, signal.SIGKILL)
    code, rest = _finish(served)
    assert code == 11, rest
    assert "rank 1 exited with code 137 while serving; the other ranks were stopped" in rest
    wait_until(lambda: alive(served.tree) == [], 10, "every process to be gone")
