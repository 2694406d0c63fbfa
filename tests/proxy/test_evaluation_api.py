"""What evaluation harnesses (lm-eval's local-completions / local-chat-completions) send: several prompts and
token-id prompts per request, echo + logprobs scored from the engine's context logits, n > 1, /tokenize and
/detokenize; and chat content that keeps the leading space its logprob tokens carry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import post_sse


@pytest.fixture(scope="module")
def scoring_proxy(hf_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    """The hf reference backend with its repository: the manifest says the logits are gathered."""
    proxy = start_proxy(hf_triton, assets, reasoning_parser="none", model_repository=hf_triton.server.model_repository)
    yield proxy
    proxy.stop()


def _post(proxy: ProxyThread, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(proxy.base_url + path, json={"model": "qwen3", **body}, timeout=120)


def test_prompt_forms_give_one_choice_per_prompt_and_n(client: openai.OpenAI, tokenizer: Tokenizer) -> None:
    first = tokenizer.encode("#reply: ids", add_special_tokens=False).ids
    second = tokenizer.encode("#reply: more ids", add_special_tokens=False).ids
    texts = client.completions.create(model="qwen3", prompt=["#reply: one", "#reply: two"], max_tokens=5)
    assert [(c.index, c.text) for c in texts.choices] == [(0, "one"), (1, "two")]
    lists = client.completions.create(model="qwen3", prompt=[first, second], max_tokens=5, n=2)
    # prompt_i * n + j
    assert [(c.index, c.text) for c in lists.choices] == [(0, "ids"), (1, "ids"), (2, "more ids"), (3, "more ids")]
    assert lists.usage is not None
    assert (lists.usage.prompt_tokens, lists.usage.completion_tokens) == (
        len(first) + len(second),
        2 * len(tokenizer.encode("ids").ids) + 2 * len(tokenizer.encode("more ids").ids),
    )


def test_too_many_choices_in_one_request_are_refused(scripted_proxy: ProxyThread) -> None:
    refused = _post(scripted_proxy, "/v1/completions", {"prompt": ["#reply: x"] * 16, "n": 128, "max_tokens": 1})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "n"
    assert "16 prompts x n 128: 2048 generations" in refused.json()["error"]["message"]


def test_tokenize_counts_what_chat_sends(scripted_proxy: ProxyThread) -> None:
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
    messages = [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "#reply: ok"}]
    counted = _post(scripted_proxy, "/tokenize", {"messages": messages, "tools": tools}).json()["count"]
    sent = _post(scripted_proxy, "/v1/chat/completions", {"messages": messages, "tools": tools}).json()
    assert counted == sent["usage"]["prompt_tokens"]
    reserved = _post(
        scripted_proxy, "/tokenize", {"messages": messages, "chat_template_kwargs": {"add_generation_prompt": False}}
    )
    assert reserved.status_code == 400
    assert reserved.json()["error"]["param"] == "chat_template_kwargs"


def _transformers_logprobs(model_dir: str, ids: list[int]) -> list[float]:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    rows = torch.log_softmax(logits, dim=-1)
    return [float(rows[i, token]) for i, token in enumerate(ids[1:])]


def test_echo_logprobs_score_the_prompt_from_context_logits(
    scoring_proxy: ProxyThread, assets: Assets, tokenizer: Tokenizer
) -> None:
    ids = tokenizer.encode("The capital of France is Paris", add_special_tokens=False).ids
    # what lm-eval's local-completions sends for a loglikelihood request (batch of two)
    body = {"prompt": [ids, ids[:4]], "max_tokens": 1, "logprobs": 2, "echo": True, "temperature": 0}
    answer = _post(scoring_proxy, "/v1/completions", body)
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["choices"]
    assert (first["index"], second["index"]) == (0, 1)
    logprobs = first["logprobs"]
    assert len(logprobs["tokens"]) == len(ids) + 1  # the prompt, then the generated token (even an end token)
    assert logprobs["token_logprobs"][0] is None
    assert logprobs["top_logprobs"][0] is None
    expected = _transformers_logprobs(str(assets.tiny_model), ids)
    assert logprobs["token_logprobs"][1 : len(ids)] == pytest.approx(expected, abs=1e-4)
    for value, top in zip(logprobs["token_logprobs"][1:], logprobs["top_logprobs"][1:], strict=True):
        assert len(top) == 2
        assert max(top.values()) >= value - 1e-6
    generated, generated_top = logprobs["token_logprobs"][-1], logprobs["top_logprobs"][-1]
    assert generated == pytest.approx(max(generated_top.values()), abs=1e-5)  # greedy: the best alternative
    assert first["text"].startswith(tokenizer.decode(ids, skip_special_tokens=False))
    assert len(second["logprobs"]["tokens"]) == 5


def test_echo_logprobs_need_context_logits(scripted_proxy: ProxyThread) -> None:
    answer = _post(
        scripted_proxy, "/v1/completions", {"prompt": [[1, 2, 3]], "max_tokens": 1, "logprobs": 0, "echo": True}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "echo"
    assert "gather_context_logits" in error["message"]


def test_chat_top_logprobs_from_generation_logits(scoring_proxy: ProxyThread) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "temperature": 0}
    answer = _post(scoring_proxy, "/v1/chat/completions", {**body, "logprobs": True, "top_logprobs": 3})
    assert answer.status_code == 200, answer.text
    for entry in answer.json()["choices"][0]["logprobs"]["content"]:
        assert len(entry["top_logprobs"]) == 3
        assert entry["logprob"] == pytest.approx(entry["top_logprobs"][0]["logprob"], abs=1e-5)


def test_n_two_chat_streamed_and_not(scripted_proxy: ProxyThread) -> None:
    body = {"messages": [{"role": "user", "content": "#reply: two words"}], "n": 2}
    whole = _post(scripted_proxy, "/v1/chat/completions", body).json()
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in whole["choices"]] == [
        (0, "two words", "stop"),
        (1, "two words", "stop"),
    ]
    single = _post(scripted_proxy, "/v1/chat/completions", {**body, "n": 1}).json()
    assert whole["usage"]["completion_tokens"] == 2 * single["usage"]["completion_tokens"]
    assert whole["usage"]["prompt_tokens"] == single["usage"]["prompt_tokens"]
    stream_body = {"model": "qwen3", **body, "stream": True, "stream_options": {"include_usage": True}}
    events = post_sse(scripted_proxy.base_url, "/v1/chat/completions", stream_body).events
    texts: dict[int, str] = {0: "", 1: ""}
    finishes: dict[int, str] = {}
    usage = None
    for event in events:
        for choice in event["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
            if choice["finish_reason"]:
                finishes[choice["index"]] = choice["finish_reason"]
        usage = event.get("usage") or usage
    assert texts == {0: "two words", 1: "two words"}
    assert finishes == {0: "stop", 1: "stop"}
    assert usage == whole["usage"]


def test_n_two_completions_streamed(client: openai.OpenAI) -> None:
    stream = client.completions.create(model="qwen3", prompt=["#reply: a b", "#reply: c"], n=2, stream=True)
    texts: dict[int, str] = {}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
    assert texts == {0: "a b", 1: "a b", 2: "c", 3: "c"}


def test_tokenize_and_detokenize(scripted_proxy: ProxyThread, tokenizer: Tokenizer) -> None:
    tokens = _post(scripted_proxy, "/tokenize", {"prompt": "Hello world"}).json()
    assert tokens["tokens"] == tokenizer.encode("Hello world").ids
    assert tokens["count"] == len(tokens["tokens"])
    assert tokens["max_model_len"] > 0
    chat = _post(scripted_proxy, "/tokenize", {"messages": [{"role": "user", "content": "hi"}]}).json()
    assert "hi" in tokenizer.decode(chat["tokens"], skip_special_tokens=False)
    assert chat["count"] > 3
    back = _post(scripted_proxy, "/detokenize", {"tokens": tokens["tokens"]}).json()
    assert back == {"prompt": "Hello world"}
    refused = _post(scripted_proxy, "/detokenize", {"tokens": [-1]})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "tokens"
    neither = _post(scripted_proxy, "/tokenize", {})
    assert neither.status_code == 400


def test_chat_content_keeps_the_leading_space_of_its_tokens(scripted_proxy: ProxyThread) -> None:
    # the scripted backend drops one space after the marker: the answer's first token is " Hello"
    body = {"messages": [{"role": "user", "content": "#reply:  Hello there"}], "logprobs": True}
    choice = _post(scripted_proxy, "/v1/chat/completions", body).json()["choices"][0]
    tokens = "".join(entry["token"] for entry in choice["logprobs"]["content"])
    assert tokens == " Hello there"
    assert choice["message"]["content"] == tokens
    events = post_sse(
        scripted_proxy.base_url, "/v1/chat/completions", {"model": "qwen3", **body, "stream": True}
    ).events
    assert "".join(c["delta"].get("content") or "" for e in events for c in e["choices"]) == tokens


def test_tokenize_body_is_json(scripted_proxy: ProxyThread) -> None:
    assert json.loads(_post(scripted_proxy, "/tokenize", {"prompt": "x"}).text)["count"] == 1


def test_scored_prompt_longer_than_the_logits_limit_is_refused(scoring_proxy: ProxyThread) -> None:
    body = {"prompt": [[1] * 1800], "max_tokens": 1, "logprobs": 0, "echo": True}  # 1800 x 151669 x 4 B > 1 GiB
    answer = _post(scoring_proxy, "/v1/completions", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "prompt"
    assert "context logits" in answer.json()["error"]["message"]
