"""The trtllm-serve stand-in (``python -m trtllm_nix_testkit.reference.trtllm_serve MODEL --grpc ...``) as a process,
with trtllm-serve's flag names: what the flake's stand-in root and a GPU-less deployment would run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from trtllm_nix.llm.trtllm_grpc_info import read_server_info
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.sse import chat
from tests.pytorch_lane.conftest import lane_proxy

MODULE = [sys.executable, "-m", "trtllm_nix_testkit.reference.trtllm_serve"]


@dataclass(frozen=True)
class _Address:
    target: str


def test_the_standin_serves_with_trtllm_serves_flags(assets: Assets, tmp_path: Path) -> None:
    port = free_ports(1)[0]
    config = tmp_path / "extra.yaml"
    config.write_text("guided_decoding_backend: xgrammar\n", "utf-8")
    command = [
        *MODULE, str(assets.tiny_model), "--grpc", "--host", "127.0.0.1", "--port", str(port), "--tp_size", "2",
        "--tokenizer", str(assets.tokenizer), "--config", str(config), "--reference_mode", "scripted",
    ]  # fmt: skip
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        info = read_server_info(f"127.0.0.1:{port}", wait_s=60)
        positions = json.loads((assets.tiny_model / "config.json").read_text("utf-8"))["max_position_embeddings"]
        assert (info.model_id, info.max_seq_len, info.tensor_parallel_size) == (str(assets.tiny_model), positions, 2)
        with lane_proxy(_Address(f"127.0.0.1:{port}"), assets) as proxy:  # type: ignore[arg-type]
            url = proxy.base_url + "/v1/chat/completions"
            assert httpx.post(url, json=chat("served"), timeout=30).json()["choices"][0]["message"]["content"] == (
                "served"
            )
            body = chat("not json", response_format={"type": "json_object"}, max_tokens=40)
            content = httpx.post(url, json=body, timeout=30).json()["choices"][0]["message"]["content"]
            assert isinstance(json.loads(content), dict)  # guided decoding on, from --config
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, (tmp_path / "serve.log").read_text()


def test_what_the_standin_refuses(assets: Assets, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*MODULE, str(assets.tiny_model), *args], capture_output=True, text=True, timeout=60)

    http = run("--port", "1")
    assert http.returncode == 2
    assert "serves only --grpc" in http.stderr
    tensorrt = run("--grpc", "--backend", "tensorrt")
    assert "runs on the pytorch backend" in tensorrt.stderr
    config = tmp_path / "extra.yaml"
    config.write_text("kv_cache_config:\n  free_gpu_memory_fraction: 0.5\n", "utf-8")
    unknown = run("--grpc", "--config", str(config))
    assert unknown.returncode == 2
    assert "does not read kv_cache_config" in unknown.stderr
