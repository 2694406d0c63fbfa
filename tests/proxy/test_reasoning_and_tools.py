"""Qwen3 reasoning and tool calls end to end: real proxy, real Triton (scripted backend), the openai SDK."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from transformers import AutoTokenizer
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import post_sse

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
ONE_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
TWO_CALLS = ONE_CALL + '\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'


def _user(reply: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"#reply: {reply}"}]


def _extra(delta: Any, name: str) -> Any:
    return (delta.model_extra or {}).get(name)


def test_reasoning_split_non_streaming(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="qwen3", messages=_user("<think>\nThe user says hi.\n</think>\n\nHello! 👋")
    )  # type: ignore[arg-type]
    message = answer.choices[0].message
    assert message.content == "Hello! 👋"
    assert _extra(message, "reasoning_content") == "The user says hi."
    assert "<think>" not in (message.content or "")


def test_reasoning_split_streaming(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="qwen3", messages=_user("<think>\nStep one.\nStep two.\n</think>\n\nDone."), stream=True
        )
    )  # type: ignore[arg-type]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(_extra(d, "reasoning_content") or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    assert (reasoning, content) == ("Step one.\nStep two.", "Done.")
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert all(not _extra(d, "reasoning_content") for d in deltas[first_content:])


def test_thinking_off_per_request_and_by_server_default(
    client: openai.OpenAI, scripted_triton: RunningTriton, assets: Assets
) -> None:
    reply = _user("<think>\n\n</think>\n\nNo thoughts.")
    on = client.chat.completions.create(model="qwen3", messages=reply)  # type: ignore[arg-type]
    off = client.chat.completions.create(
        model="qwen3",
        messages=reply,  # type: ignore[arg-type]
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    assert off.choices[0].message.content == on.choices[0].message.content == "No thoughts."
    assert _extra(off.choices[0].message, "reasoning_content") is None
    assert off.usage is not None
    assert on.usage is not None
    assert off.usage.prompt_tokens == on.usage.prompt_tokens + 4  # "<think>\n\n</think>\n\n" closes thinking
    proxy = start_proxy(scripted_triton, assets, default_chat_template_kwargs={"enable_thinking": False})
    try:
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0) as sdk:
            default_off = sdk.chat.completions.create(model="qwen3", messages=reply)  # type: ignore[arg-type]
            back_on = sdk.chat.completions.create(
                model="qwen3",
                messages=reply,  # type: ignore[arg-type]
                extra_body={"chat_template_kwargs": {"enable_thinking": True}},
            )
    finally:
        proxy.stop()
    assert default_off.usage is not None
    assert back_on.usage is not None
    assert default_off.usage.prompt_tokens == off.usage.prompt_tokens
    assert back_on.usage.prompt_tokens == on.usage.prompt_tokens


@pytest.fixture
def opened_thinking_proxy(scripted_triton: RunningTriton, assets: Assets, tmp_path: Path) -> Iterator[ProxyThread]:
    """A model whose template opens <think> in the prompt (as Qwen3-Thinking-2507 does)."""
    folder = tmp_path / "tokenizer"
    shutil.copytree(assets.tokenizer, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = config["chat_template"].replace(
        "{{- '<|im_start|>assistant\\n' -}}\n  {%- if enable_thinking",
        "{{- '<|im_start|>assistant\\n<think>\\n' -}}\n  {%- if enable_thinking",
    )
    assert "assistant\\n<think>\\n" in config["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    proxy = start_proxy(scripted_triton, assets, tokenizer=folder, reasoning_alias=True)
    yield proxy
    proxy.stop()


def test_thinking_opened_by_the_template(opened_thinking_proxy: ProxyThread) -> None:
    body = {"model": "qwen3", "messages": _user("Already thinking.\n</think>\n\nThe answer.")}
    message = httpx.post(opened_thinking_proxy.base_url + "/v1/chat/completions", json=body).json()["choices"][0]
    assert message["message"]["content"] == "The answer."
    assert message["message"]["reasoning_content"] == message["message"]["reasoning"] == "Already thinking."


@pytest.mark.parametrize("stream", [False, True])
def test_one_and_two_tool_calls(client: openai.OpenAI, stream: bool) -> None:
    for reply, names in ((ONE_CALL, ["get_weather"]), (TWO_CALLS, ["get_weather", "get_time"])):
        args = {
            "model": "qwen3",
            "messages": _user("<think>\nUse tools.\n</think>\n\n" + reply),
            "tools": [WEATHER, TIME],
        }
        if not stream:
            choice = client.chat.completions.create(**args).choices[0]  # type: ignore[call-overload]
            calls = [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []]
            assert choice.finish_reason == "tool_calls"
            assert choice.message.content is None
            assert all(c.id.startswith("call_") for c in choice.message.tool_calls or [])
        else:
            chunks = list(client.chat.completions.create(**args, stream=True))  # type: ignore[call-overload]
            merged: dict[int, dict[str, str]] = {}
            for chunk in chunks:
                for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                    entry = merged.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    if call.id:
                        assert not entry["id"], "the id is sent once"
                        entry["id"] = call.id
                    entry["name"] += call.function.name or "" if call.function else ""
                    entry["arguments"] += call.function.arguments or "" if call.function else ""
            calls = [(merged[i]["name"], json.loads(merged[i]["arguments"])) for i in sorted(merged)]
            finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
            assert finishes == ["tool_calls"]
        assert [name for name, _ in calls] == names
        assert calls[0][1] == {"city": "Paris"}


def test_tool_choice_none_keeps_markup_from_the_client(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="qwen3",
        messages=_user("Let me look. " + ONE_CALL),  # type: ignore[arg-type]
        tools=[WEATHER],
        tool_choice="none",
    )  # type: ignore[list-item]
    message = answer.choices[0].message
    assert message.tool_calls is None
    assert message.content == "Let me look."
    assert answer.choices[0].finish_reason == "stop"


def test_forced_tool_choice_is_refused_not_ignored(scripted_proxy: ProxyThread) -> None:
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        body = {"model": "qwen3", "messages": _user("x"), "tools": [WEATHER], "tool_choice": choice}
        response = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "tool_choice"


def test_malformed_tool_json_stays_visible(scripted_proxy: ProxyThread) -> None:
    reply = '<tool_call>\n{"name": "get_weather", "arguments": {city: Paris}}\n</tool_call>'
    body = {"model": "qwen3", "messages": _user(reply), "tools": [WEATHER]}
    whole = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body).json()["choices"][0]
    assert whole["message"]["content"] == reply
    assert whole["finish_reason"] == "stop"
    sse = post_sse(scripted_proxy.base_url, "/v1/chat/completions", {**body, "stream": True})
    assert sse.text() == reply
    assert sse.data[-1] == "[DONE]"


def test_tool_round_trip_renders_like_the_models_own_template(client: openai.OpenAI, assets: Assets) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning": "I will call the tool.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "#reply: It is sunny in Paris."},
    ]
    answer = client.chat.completions.create(model="qwen3", messages=messages, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert answer.choices[0].message.content == "It is sunny in Paris."
    reference = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    as_template_expects = [dict(m) for m in messages]
    as_template_expects[2]["reasoning_content"] = as_template_expects[2].pop("reasoning")
    as_template_expects[2]["content"] = ""
    expected = reference.apply_chat_template(
        as_template_expects, tools=[WEATHER], add_generation_prompt=True, tokenize=False
    )
    assert "<think>\nI will call the tool.\n</think>" in expected
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == len(reference(expected, add_special_tokens=False)["input_ids"])
    with_content_field = [*messages[:2], {**messages[2], "reasoning_content": "I will call the tool."}, messages[3]]
    del with_content_field[2]["reasoning"]
    again = client.chat.completions.create(model="qwen3", messages=with_content_field, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert again.usage is not None
    assert again.usage.prompt_tokens == answer.usage.prompt_tokens
