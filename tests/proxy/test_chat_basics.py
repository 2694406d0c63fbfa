"""Chat completions through the real proxy, Triton and reference backend, with the real openai SDK."""

from __future__ import annotations

import asyncio

import openai
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

UNICODE_REPLY = "Grüße aus 東京 🎉👨‍👩‍👧 — naïve café"


def _ask(reply: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"#reply: {reply}"}]


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["qwen3"]
    assert client.models.retrieve("qwen3").id == "qwen3"


def test_non_streaming_answer_usage_and_finish(client: openai.OpenAI, tokenizer: Tokenizer) -> None:
    answer = client.chat.completions.create(model="qwen3", messages=_ask(UNICODE_REPLY), max_tokens=100)
    assert answer.choices[0].message.content == UNICODE_REPLY
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == len(tokenizer.encode(UNICODE_REPLY, add_special_tokens=False).ids)
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_streamed_text_equals_non_streamed_text(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="qwen3", messages=_ask(UNICODE_REPLY), max_tokens=100)
    stream = client.chat.completions.create(
        model="qwen3", messages=_ask(UNICODE_REPLY), max_tokens=100, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content == UNICODE_REPLY
    assert "\ufffd" not in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage == whole.usage


def test_length_finish_when_max_tokens_cuts(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="qwen3", messages=_ask("one two three four five six"), max_tokens=3)
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 3
    assert answer.choices[0].message.content == "one two three"


def test_async_client_streams_concurrently(scripted_proxy: ProxyThread) -> None:
    async def run() -> list[str]:
        async with openai.AsyncOpenAI(base_url=scripted_proxy.base_url + "/v1", api_key="x", max_retries=0) as sdk:

            async def one(i: int) -> str:
                stream = await sdk.chat.completions.create(model="qwen3", messages=_ask(f"answer {i} 🎉"), stream=True)
                return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

            return await asyncio.gather(*(one(i) for i in range(8)))

    assert asyncio.run(run()) == [f"answer {i} 🎉" for i in range(8)]


def test_greedy_through_the_proxy_equals_transformers(hf_proxy: ProxyThread, assets: Assets) -> None:
    messages = [{"role": "user", "content": "Tell me about Triton."}]
    with openai.OpenAI(base_url=hf_proxy.base_url + "/v1", api_key="x", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model="qwen3", messages=messages, max_tokens=20, temperature=0)
        again = sdk.chat.completions.create(model="qwen3", messages=messages, max_tokens=20, temperature=0)
    hf_tokenizer = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    model = AutoModelForCausalLM.from_pretrained(str(assets.tiny_model), dtype=torch.float32).eval()
    ids = hf_tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(
            **ids,
            max_new_tokens=20,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            eos_token_id=[151645, 151643],
            pad_token_id=151643,
        )
    generated = out[0, ids["input_ids"].shape[1] :].tolist()
    expected = hf_tokenizer.decode(generated, skip_special_tokens=True)
    assert answer.choices[0].message.content == expected
    assert again.choices[0].message.content == expected
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == ids["input_ids"].shape[1]
