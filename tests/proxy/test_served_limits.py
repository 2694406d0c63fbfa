"""Limits: the context of the engine served (from the repository manifest), and long prompts that must not
freeze everybody else's streams."""

from __future__ import annotations

import itertools
import random
import string
import threading
import time
from pathlib import Path

import httpx
import pytest
from tokenizers import Tokenizer
from trtllm_nix.errors import UserError
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces, served_repository


def test_the_context_is_the_served_engines(assets: Assets, tokenizer: Tokenizer, tmp_path: Path) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["x"]))
    app = app_with(assets.tokenizer, upstream, model_repository=served_repository(tmp_path, 2048))
    with client_for(app) as client:
        assert client.get("/v1/models").json()["data"][0]["max_model_len"] == 2048
        long = {"model": "qwen3", "prompt": [100] * 2048}
        refused = client.post("/v1/completions", json=long)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "context_length_exceeded"
        assert refused.json()["error"]["param"] == "prompt"
        # token ids are counted as tokens (it said "the prompt has 32769 characters" of a prompt sent as ids)
        assert refused.json()["error"]["message"] == (
            "the prompt has 2048 tokens, which leaves no room in the 2048-token context"
        )
        client.post("/v1/completions", json={"model": "qwen3", "prompt": "hello"})
    assert upstream.requests[0].max_new_tokens == 2048 - 1


def test_a_max_model_len_beyond_the_engine_refuses_to_start(assets: Assets, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="more than the served engine's max_seq_len 2048"):
        app_with(
            assets.tokenizer,
            FakeUpstream(lambda _: []),
            model_repository=served_repository(tmp_path, 2048),
            max_model_len=4096,
        )


def test_a_long_prompt_does_not_freeze_other_streams(assets: Assets, tokenizer: Tokenizer) -> None:
    rng = random.Random(7)
    prompt = "".join(rng.choices(string.ascii_letters + "     ", k=3_000_000))  # no cache helps the tokenizer
    started = time.perf_counter()
    tokenizer.encode(prompt, add_special_tokens=False)
    tokenize_s = time.perf_counter() - started
    assert tokenize_s > 0.5, "the prompt must take the tokenizer a while for this test to show anything"

    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["word"] * 100_000), gap=0.02)
    settings = ProxySettings(tokenizer=assets.tokenizer, port=free_ports(1)[0], max_model_len=400_000)
    arrivals: list[float] = []
    first = threading.Event()
    stop = threading.Event()

    def stream() -> None:
        body = {"model": "qwen3", "prompt": "go", "stream": True}
        with httpx.stream("POST", proxy.base_url + "/v1/completions", json=body, timeout=120) as response:
            for _line in response.iter_lines():
                arrivals.append(time.perf_counter())
                first.set()
                if stop.is_set():
                    return

    with ProxyThread(settings, upstream=upstream) as proxy:
        reader = threading.Thread(target=stream)
        reader.start()
        assert first.wait(30)
        sent = time.perf_counter()
        httpx.post(proxy.base_url + "/v1/completions", json={"model": "qwen3", "prompt": prompt}, timeout=300)
        answered = time.perf_counter()
        stop.set()
        reader.join(60)
    during = [t for t in arrivals if sent <= t <= answered]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert len(during) > 2
    assert max(gaps) < tokenize_s / 2, (max(gaps), tokenize_s)
