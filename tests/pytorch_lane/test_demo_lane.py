"""``trtllm-nix demo --lane pytorch`` as a user runs it: the reference TrtllmService behind the proxy, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import openai
from trtllm_nix.triton.ports import free_ports

from tests.helpers import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_demo_pytorch_lane_answers_then_stops_cleanly(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    env = {
        **os.environ,
        "TRTLLM_NIX_CACHE": os.environ.get("TRTLLM_NIX_CACHE", str(REPO_ROOT / ".cache" / "trtllm-nix")),
    }
    command = [sys.executable, "-m", "trtllm_nix.cli", "demo", "--lane", "pytorch", "--backend", "scripted"]
    with (tmp_path / "demo.log").open("wb") as log:
        demo = subprocess.Popen(
            [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            wait_until(lambda: _up(f"http://127.0.0.1:{port}/health/ready") or demo.poll() is not None, 90, "the demo")
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()
            with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0) as sdk:
                messages = [{"role": "user", "content": "#reply: Hi from the PyTorch lane"}]
                whole = sdk.chat.completions.create(model="qwen3", messages=messages)  # type: ignore[arg-type]
                cards = sdk.models.list().data
        finally:
            demo.send_signal(signal.SIGINT)
            code = demo.wait(timeout=60)
    output = (tmp_path / "demo.log").read_text()
    assert whole.choices[0].message.content == "Hi from the PyTorch lane"
    assert [card.max_model_len for card in cards] == [16384]  # type: ignore[attr-defined]
    assert "TrtllmService ready: grpc-trtllm://127.0.0.1:" in output
    assert code == 0, output
