"""``/v1/completions``: raw prompts (text or ids), echo, streaming, logprobs, and what it refuses."""

from __future__ import annotations

import httpx
import openai
import pytest
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import post_sse


def test_text_prompt_streamed_and_not(client: openai.OpenAI) -> None:
    whole = client.completions.create(model="qwen3", prompt="#reply: 東京 🎉 done", max_tokens=20)
    assert whole.object == "text_completion"
    assert whole.choices[0].text == "東京 🎉 done"
    assert whole.choices[0].finish_reason == "stop"
    streamed = client.completions.create(model="qwen3", prompt="#reply: 東京 🎉 done", max_tokens=20, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "東京 🎉 done"


def test_token_id_prompt_and_echo(client: openai.OpenAI, tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tokenizer.encode("#reply: ids work", add_special_tokens=False).ids
    answer = client.completions.create(model="qwen3", prompt=ids, max_tokens=10, echo=True)
    assert answer.choices[0].text == "#reply: ids workids work"
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == len(ids)


def test_length_and_stop(client: openai.OpenAI) -> None:
    cut = client.completions.create(model="qwen3", prompt="#reply: a b c d e", max_tokens=2)
    assert (cut.choices[0].text, cut.choices[0].finish_reason) == ("a b", "length")
    stopped = client.completions.create(model="qwen3", prompt="#reply: a b c d e", stop=[" c"])
    assert stopped.choices[0].text == "a b"


def test_logprobs_zero_gives_chosen_token_logprobs(hf_proxy: ProxyThread) -> None:
    body = {"model": "qwen3", "prompt": "Once upon a time", "max_tokens": 4, "temperature": 0, "logprobs": 0}
    answer = httpx.post(hf_proxy.base_url + "/v1/completions", json=body).json()["choices"][0]
    logprobs = answer["logprobs"]
    assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"]) == 4
    assert all(value <= 0 for value in logprobs["token_logprobs"])
    assert "".join(logprobs["tokens"]) == answer["text"]
    sse = post_sse(hf_proxy.base_url, "/v1/completions", {**body, "stream": True})
    streamed = [v for e in sse.events for v in (e["choices"][0]["logprobs"] or {}).get("token_logprobs", [])]
    assert streamed == pytest.approx(logprobs["token_logprobs"])


def test_chat_logprobs(hf_proxy: ProxyThread) -> None:
    body = {
        "model": "qwen3",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 3,
        "temperature": 0,
        "logprobs": True,
    }
    choice = httpx.post(hf_proxy.base_url + "/v1/chat/completions", json=body).json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert len(content) == 3
    assert all(item["logprob"] <= 0 and item["top_logprobs"] == [] for item in content)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": []}, "prompt"),
        ({"prompt": [[1], []]}, "prompt"),
        ({"prompt": "x", "suffix": "y"}, "suffix"),
        ({"prompt": "x", "logprobs": 2}, "logprobs"),  # the scripted proxy serves no generation logits
        ({"prompt": "x", "logprobs": 0, "echo": True}, "echo"),  # nor context logits
        ({"prompt": [999999999]}, "prompt"),
        ({"prompt": ""}, "prompt"),
    ],
)
def test_refused_values(scripted_proxy: ProxyThread, fields: dict[str, object], param: str) -> None:
    response = httpx.post(scripted_proxy.base_url + "/v1/completions", json={"model": "qwen3", **fields})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_echo_with_logprobs_on_the_scripted_backend(scripted_triton: RunningTriton, assets: Assets) -> None:
    """The scripted repository says it gathers context logits, so the scripted backend returns them (a model with
    no opinion: every token equally likely); before, it returned none and the proxy answered 502."""
    proxy = start_proxy(scripted_triton, assets, model_repository=scripted_triton.server.model_repository)
    try:
        body = {"model": "qwen3", "prompt": "e f", "echo": True, "logprobs": 1, "max_tokens": 2}
        response = httpx.post(proxy.base_url + "/v1/completions", json=body, timeout=30)
    finally:
        proxy.stop()
    assert response.status_code == 200, response.text[:300]
    logprobs = response.json()["choices"][0]["logprobs"]
    assert logprobs["token_logprobs"][0] is None  # the first prompt token has no context
    assert all(value <= 0 for value in logprobs["token_logprobs"][1:])
