"""``trtllm-nix serve --runtime ROOT``: tritonserver runs inside the image root, our gRPC client answers outside."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import trtllm_nix_testkit
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import Ports

from tests.helpers import generate, request, tokens_of


def _lines_until(process: subprocess.Popen[str], marker: str, seen: list[str], timeout: float) -> bool:
    """Read the output in a thread (kept until EOF); True once ``marker`` was printed within ``timeout``."""
    found = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _READERS.append(reader)
    return found.wait(timeout)


_READERS: list[threading.Thread] = []
TESTKIT_SOURCES = Path(trtllm_nix_testkit.__file__).resolve().parent.parent


@pytest.mark.parametrize("world", [1, 2])
def test_serve_runtime_runs_tritonserver_inside_the_image(
    tmp_path: Path, standin_root: Path, assets: Assets, world: int
) -> None:
    """World 2 runs the image's own mpirun (Open MPI 4.1 in the stand-in) with one rank wrapper each, inside."""
    stats = tmp_path / "s.json"
    repo = write_reference_repository(tmp_path / "repo", "scripted", assets.tokenizer, stats_file=stats, tp_size=world)
    # preprocessing and postprocessing load in the root's own Python (numpy, tokenizers, jinja2 and our sources);
    # the ensemble's gRPC client needs grpcio, which this root lacks: it loads all the same and refuses requests.
    ports = Ports.pick()
    command = [
        sys.executable, "-m", "trtllm_nix.cli", "serve", "--runtime", str(standin_root), "--repo", str(repo),
        "--bind", str(assets.tokenizer.parent), "--bind", str(tmp_path), "--run-dir", str(tmp_path / "run"),
        "--bind", str(TESTKIT_SOURCES),  # the reference model's model.py imports the testkit from there
        "--http-port", str(ports.http), "--grpc-port", str(ports.grpc), "--metrics-port", str(ports.metrics),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        assert _lines_until(process, "ready:", seen, 120), "".join(seen)
        chunks = generate(f"127.0.0.1:{ports.grpc}", request([1, 2, 3], 4))
        assert len(tokens_of(chunks)) == 4
        log = (tmp_path / "run" / "rank0.log").read_text()
        assert all((tmp_path / "run" / f"rank{rank}.log").exists() for rank in range(world))
        assert "2.51.0" in log  # the image's tritonserver answered, not the venv's
        for model in ("preprocessing", "postprocessing", "ensemble"):
            assert f"successfully loaded '{model}'" in log, log
        refused = httpx.post(
            f"http://127.0.0.1:{ports.http}/v2/models/ensemble/generate", json={"text_input": "hi", "max_tokens": 2}
        )
        assert refused.status_code >= 400
        assert "needs grpcio and tritonclient" in refused.json()["error"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, "".join(seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for reader in _READERS:
            reader.join(timeout=30)  # EOF: the process is gone
        assert process.stdout is not None
        process.stdout.close()
