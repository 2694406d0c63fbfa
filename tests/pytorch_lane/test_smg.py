"""SMG (the Rust gateway that drives ``trtllm-serve --grpc`` in production) as an independent client of the reference
TrtllmService: it registers the worker through HealthCheck/GetModelInfo/GetServerInfo, serves OpenAI requests with
its own tokenizer and template, and cancels with ``Abort``.

SMG runs from its own virtualenv (``make .venv-smg/bin/smg``; it needs protobuf 7, the project's pins protobuf
6 for tritonclient); ``TRTLLM_NIX_SMG`` names another binary. Offline, SMG looks up the Hub on every request unless
its ``--model-path`` folder holds the model's ``config.json`` (its multimodal config is read from there): the tiny
model's folder has one (docs/pytorch-lane.md).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.helpers import wait_until
from tests.proxy.sse import chat

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_THINK = {"chat_template_kwargs": {"enable_thinking": False}}


def _smg_binary() -> Path:
    path = Path(os.environ.get("TRTLLM_NIX_SMG") or REPO_ROOT / ".venv-smg" / "bin" / "smg")
    if not path.is_file():
        raise AssertionError(f"no SMG at {path}: run `make .venv-smg/bin/smg` or set TRTLLM_NIX_SMG")
    return path


def _serving(base: str) -> bool:
    """SMG answers a chat: the worker is registered and so is its tokenizer (a later step: /v1/models lists the
    model first, and a chat then gets 503 "Tokenizer for model 'qwen3' is not registered yet")."""
    try:
        answer = httpx.post(base + "/v1/chat/completions", json=chat("up", max_tokens=1, **NO_THINK), timeout=5)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


@pytest.fixture(scope="module")
def smg(trtllm_service: TrtllmServiceThread, assets: Assets, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, metrics = free_ports(2)
    log_path = tmp_path_factory.mktemp("smg") / "smg.log"
    command = [
        str(_smg_binary()),
        "launch",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--prometheus-host", "127.0.0.1",
        "--prometheus-port", str(metrics),
        "--worker-urls", f"grpc://{trtllm_service.target}",
        "--model-path", str(assets.tiny_model),  # tokenizer, template and config.json: no Hub look-ups
        "--policy", "round_robin",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _serving(base) or process.poll() is not None, 60, "SMG to register the worker")
        assert process.poll() is None, log_path.read_text(errors="replace")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("stream", [False, True])
def test_smg_serves_chat_through_the_reference_server(smg: str, stream: bool) -> None:
    reply = "#reply: Hello 世界 🎉 through SMG"
    with openai.OpenAI(base_url=smg + "/v1", api_key="x", max_retries=0) as sdk:
        messages = [{"role": "user", "content": reply}]
        if stream:
            chunks = sdk.chat.completions.create(model="qwen3", messages=messages, stream=True, extra_body=NO_THINK)  # type: ignore[arg-type]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            answer = sdk.chat.completions.create(model="qwen3", messages=messages, extra_body=NO_THINK)  # type: ignore[arg-type]
            text = answer.choices[0].message.content or ""
            assert answer.choices[0].finish_reason == "stop"
    assert text == "Hello 世界 🎉 through SMG"


def test_smg_cancels_with_abort(smg: str, trtllm_service: TrtllmServiceThread) -> None:
    aborts = len(trtllm_service.servicer.aborts)
    body = chat("word " * 200 + "#delay_ms:10", stream=True, ignore_eos=True, max_tokens=4000, **NO_THINK)
    with httpx.stream("POST", smg + "/v1/chat/completions", json=body, timeout=30) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data: ")
            if seen == 5:
                break
    wait_until(lambda: len(trtllm_service.servicer.aborts) > aborts, 30, "SMG's Abort call")


def test_smg_serves_completions_responses_and_n(smg: str) -> None:
    prompt = "<|im_start|>user\n#reply: abc def<|im_end|>\n<|im_start|>assistant\n"
    completion = httpx.post(
        smg + "/v1/completions", json={"model": "qwen3", "prompt": prompt, "max_tokens": 20}, timeout=30
    )
    assert completion.json()["choices"][0]["text"] == "abc def"
    body = {"model": "qwen3", "input": "#reply: <think>r</think>Bonjour", "max_output_tokens": 20}
    response = httpx.post(smg + "/v1/responses", json=body, timeout=30).json()
    texts = [part["text"] for item in response["output"] if item["type"] == "message" for part in item["content"]]
    assert texts == ["Bonjour"]
    two = httpx.post(smg + "/v1/chat/completions", json=chat("two", n=2, **NO_THINK), timeout=30).json()
    assert [choice["message"]["content"] for choice in two["choices"]] == ["two", "two"]  # num_return_sequences 2
