"""``trtllm-nix demo`` as a user runs it: a subprocess, the openai SDK, Ctrl-C, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
from trtllm_nix.triton.ports import free_ports

from tests.helpers import wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_demo_answers_streaming_and_not_then_stops_cleanly(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    env = {
        **os.environ,
        "TRTLLM_NIX_CACHE": os.environ.get("TRTLLM_NIX_CACHE", str(REPO_ROOT / ".cache" / "trtllm-nix")),
    }
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "trtllm_nix.cli", "demo", "--backend", "scripted", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{port}/health/ready") or demo.poll() is not None, 90, "the demo")
        assert demo.poll() is None, (tmp_path / "demo.log").read_text()
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0) as sdk:
            messages = [{"role": "user", "content": "#reply: Hi from the demo 👋"}]
            whole = sdk.chat.completions.create(model="qwen3", messages=messages)  # type: ignore[arg-type]
            streamed = sdk.chat.completions.create(model="qwen3", messages=messages, stream=True)  # type: ignore[arg-type]
            text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
            # OpenWebUI 0.12 sends its built-in tools: about 6600 prompt tokens with Qwen3's template.
            cards = sdk.models.list().data
            tools: Any = [_tool(i) for i in range(30)]
            long = sdk.chat.completions.create(model="qwen3", messages=messages, tools=tools)  # type: ignore[arg-type]
        assert whole.choices[0].message.content == text == "Hi from the demo 👋"
        assert [card.max_model_len for card in cards] == [16384]  # type: ignore[attr-defined]
        assert long.usage is not None
        assert long.usage.prompt_tokens > 4096
        assert long.choices[0].message.content == "Hi from the demo 👋"
        output = (tmp_path / "demo.log").read_text()
        assert f"curl -s http://127.0.0.1:{port}/v1/chat/completions" in output
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "demo.log").read_text()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(demo.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the demo left processes behind")


def test_killing_the_demo_outright_leaves_no_tritonserver(tmp_path: Path) -> None:
    """Even SIGKILL of the demo (no clean-up can run) takes its tritonserver down: it dies with its parent."""
    from trtllm_nix.processes import alive, descendants

    port = free_ports(1)[0]
    env = {
        **os.environ,
        "TRTLLM_NIX_CACHE": os.environ.get("TRTLLM_NIX_CACHE", str(REPO_ROOT / ".cache" / "trtllm-nix")),
    }
    with (tmp_path / "demo.log").open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "trtllm_nix.cli", "demo", "--backend", "scripted", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_until(lambda: _up(f"http://127.0.0.1:{port}/health/ready") or demo.poll() is not None, 90, "the demo")
        tree = descendants(demo.pid)
        assert tree, "the demo started tritonserver and its stubs"
        demo.kill()
        demo.wait(10)
    wait_until(lambda: alive(tree) == [], 15, "tritonserver and its stubs to die with the demo")


def _wait_for(demo: subprocess.Popen[bytes], port: int, log: Path) -> None:
    wait_until(lambda: _up(f"http://127.0.0.1:{port}/health/ready") or demo.poll() is not None, 90, "a demo")
    assert demo.poll() is None, log.read_text()


def _repository_of(demo: int) -> str:
    """The --model-repository of the tritonserver a demo started."""
    from trtllm_nix.processes import descendants

    for pid in descendants(demo):
        args = Path(f"/proc/{pid}/cmdline").read_text(errors="replace").split("\0")
        for arg in args:
            if arg.startswith("--model-repository="):
                return arg.removeprefix("--model-repository=")
        if "--model-repository" in args:
            return args[args.index("--model-repository") + 1]
    raise AssertionError(f"no tritonserver under the demo {demo}")


def _tool(i: int) -> dict[str, Any]:
    properties = {f"field_{j}": {"type": "string", "description": f"field {j} of tool {i}"} for j in range(8)}
    parameters = {"type": "object", "properties": properties}
    return {"type": "function", "function": {"name": f"tool_{i}", "description": "a tool", "parameters": parameters}}


def test_two_demos_of_one_backend_run_side_by_side(tmp_path: Path) -> None:
    """Each run has its own work folder: a second demo of the same backend neither shares nor deletes the first's
    repository (it did: both used demo/scripted, and the second started by removing it)."""
    ports = free_ports(2)
    env = {
        **os.environ,
        "TRTLLM_NIX_CACHE": os.environ.get("TRTLLM_NIX_CACHE", str(REPO_ROOT / ".cache" / "trtllm-nix")),
    }
    demos: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            with (tmp_path / f"demo-{port}.log").open("wb") as log:
                demos.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "trtllm_nix.cli", "demo", "--backend", "scripted", "--port", str(port)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
            _wait_for(demos[-1], port, tmp_path / f"demo-{port}.log")
        repositories = [_repository_of(demo.pid) for demo in demos]
        assert repositories[0] != repositories[1], "each tritonserver serves a repository of its own"
        assert all(Path(repository).is_dir() for repository in repositories)
        for port in ports:  # the first still answers after the second came up
            with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0) as sdk:
                messages: Any = [{"role": "user", "content": f"#reply: demo on {port}"}]
                answer = sdk.chat.completions.create(model="qwen3", messages=messages)
            assert answer.choices[0].message.content == f"demo on {port}"
    finally:
        for demo in demos:
            demo.send_signal(signal.SIGINT)
        codes = [demo.wait(timeout=60) for demo in demos]
    assert codes == [0, 0]
    folders = Path(env["TRTLLM_NIX_CACHE"]) / "demo"
    assert not [f for f in folders.iterdir() if f.name.endswith(tuple(f"-{d.pid}" for d in demos))], "cleaned up"
