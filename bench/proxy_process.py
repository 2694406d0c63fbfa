"""The proxy as a process of its own (so its CPU time and memory can be read), started and ready."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from trtllm_nix.triton.ports import free_ports


def start_proxy_process(triton_grpc: str, tokenizer: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_ports(1)[0]
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trtllm_nix.cli",
            "proxy",
            "--triton",
            triton_grpc,
            "--tokenizer",
            str(tokenizer),
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health/ready").status_code == 200:
                return proxy, base
        except httpx.HTTPError:
            pass
        if proxy.poll() is not None:
            break
        time.sleep(0.1)
    proxy.kill()
    raise SystemExit(f"the proxy did not start (exit code {proxy.poll()})")
