"""The real SmolLM2-135M-Instruct and its ModelOpt NVFP4 export, through proxy -> tritonserver -> reference backend.

One tritonserver per model (module scope); answers are greedy and short. ``doctor --smoke`` is judged against the
same running proxies: the real model passes, the random tiny Qwen3 and a closed port fail with what to check.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from trtllm_nix.cli import main
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.smoke import WHAT_TO_CHECK, smoke
from trtllm_nix.triton.ports import free_ports
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

from tests.real_models import ANSWER_WORD, QUESTION


@pytest.fixture(scope="module", params=["bf16", "NVFP4"])
def real_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets
) -> Iterator[tuple[str, ProxyThread]]:
    quant: str = request.param
    model_dir = assets.real.smollm2 if quant == "bf16" else assets.real.export(quant)
    tmp = tmp_path_factory.mktemp(f"smollm2-{quant}")
    repo = write_reference_repository(tmp / "repo", "hf", model_dir, model_dir, guided_decoding=False)
    name = "smollm2" if quant == "bf16" else f"smollm2-{quant.lower()}"
    with TritonServer(runtime, repo, tmp / "work") as server:
        settings = ProxySettings(
            tokenizer=model_dir, triton=server.grpc_url, model_name=name, port=free_ports(1)[0], model_repository=repo
        )
        proxy = ProxyThread(settings)
        proxy.start()
        try:
            yield name, proxy
        finally:
            proxy.stop()


@pytest.mark.slow
def test_the_real_model_answers_paris_streamed(real_proxy: tuple[str, ProxyThread]) -> None:
    name, proxy = real_proxy
    with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0) as sdk:
        cards = sdk.models.list().data
        assert [m.id for m in cards] == [name]
        # SmolLM2's chat template has no place for tools: the card says so (the proxy also logs it at start)
        assert (cards[0].model_extra or {})["capabilities"]["tools"] is False
        stream = sdk.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=16,
            temperature=0,
            stream=True,
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert ANSWER_WORD in text, text
    assert text.startswith("The capital of France is Paris"), text


@pytest.mark.slow
def test_doctor_smoke_passes_on_the_real_model(
    real_proxy: tuple[str, ProxyThread], capsys: pytest.CaptureFixture[str]
) -> None:
    _, proxy = real_proxy
    code = main(["doctor", "--smoke", proxy.base_url, "--no-gpu"])  # the CLI's own handler, in this process
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0, lines
    assert lines[0].startswith(f"ok   smoke: {QUESTION!r} -> 'The capital of France is Paris"), lines
    assert lines[-1] == "1 passed, 0 failed"


def test_doctor_smoke_fails_on_the_random_tiny_model(hf_proxy: ProxyThread) -> None:
    finding = smoke(hf_proxy.base_url + "/v1", timeout_s=120)
    assert not finding.ok
    assert "repeating garbage" in finding.detail or "no end token within 64 tokens" in finding.detail, finding
    assert finding.fix == WHAT_TO_CHECK


def test_doctor_smoke_on_a_closed_port_fails_in_one_line(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "doctor", "--smoke", f"http://127.0.0.1:{port}", "--no-gpu"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith(f"FAIL smoke: http://127.0.0.1:{port}: no answer ("), result.stdout
    assert "start the server, or pass its base URL" in result.stdout
