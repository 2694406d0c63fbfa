"""Chat, completions and the Responses API through the proxy's PyTorch lane (the reference TrtllmService): the same
answers as the engine lane gives for the same scripted replies, streamed and not."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from trtllm_nix_testkit.background import ProxyThread

from tests.proxy.sse import chat, post_sse

NO_THINK = {"chat_template_kwargs": {"enable_thinking": False}}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _user(reply: str) -> list[Any]:
    return [{"role": "user", "content": f"#reply: {reply}"}]


@pytest.mark.parametrize("stream", [False, True])
def test_chat_reasoning_and_content(sdk: openai.OpenAI, pytorch_proxy: ProxyThread, stream: bool) -> None:
    reply = "<think>Easy.</think>Hello 世界 🎉"
    if not stream:
        answer = sdk.chat.completions.create(model="qwen3", messages=_user(reply))
        message = answer.choices[0].message
        assert message.content == "Hello 世界 🎉"
        assert (message.model_extra or {})["reasoning_content"] == "Easy."
        assert answer.choices[0].finish_reason == "stop"
        assert answer.usage is not None
        assert answer.usage.completion_tokens > 0
        return
    events = post_sse(pytorch_proxy.base_url, "/v1/chat/completions", chat(reply, stream=True))
    assert events.text() == "Hello 世界 🎉"
    assert events.text("reasoning_content") == "Easy."
    assert events.data[-1] == "[DONE]"


def test_chat_n_choices_and_length(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model="qwen3", messages=_user("one two three four five"), n=3, max_tokens=2)
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert {c.finish_reason for c in answer.choices} == {"length"}
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 6


@pytest.mark.parametrize("stream", [False, True])
def test_chat_tool_call(sdk: openai.OpenAI, stream: bool) -> None:
    fields: dict[str, Any] = {"model": "qwen3", "messages": _user(CALL), "tools": [WEATHER], "extra_body": NO_THINK}
    if not stream:
        choice = sdk.chat.completions.create(**fields).choices[0]
        calls = choice.message.tool_calls or []
        assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
            ("get_weather", {"city": "Paris"})
        ]
        assert choice.finish_reason == "tool_calls"
        return
    name, arguments, finishes = "", "", []
    for chunk in sdk.chat.completions.create(stream=True, **fields):
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            name += (call.function.name or "") if call.function else ""
            arguments += (call.function.arguments or "") if call.function else ""
        finishes += [chunk.choices[0].finish_reason] if chunk.choices and chunk.choices[0].finish_reason else []
    assert (name, json.loads(arguments), finishes) == ("get_weather", {"city": "Paris"}, ["tool_calls"])


def test_chat_logprobs_with_alternatives_from_the_server(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="qwen3", messages=_user("Hi there"), logprobs=True, top_logprobs=2, extra_body=NO_THINK
    )
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None
    assert "".join(item.token for item in content) == "Hi there"
    for item in content:
        assert item.logprob == 0.0  # the scripted generator is certain of its script
        assert len(item.top_logprobs) == 2
        assert item.top_logprobs[0].token == item.token


@pytest.mark.parametrize("stream", [False, True])
def test_structured_output_json_schema(sdk: openai.OpenAI, stream: bool) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    fields: dict[str, Any] = {
        "model": "qwen3",
        "messages": _user("Sure, here it is."),
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}},
        "max_tokens": 60,
        "extra_body": NO_THINK,
    }
    if stream:
        text = "".join(
            c.choices[0].delta.content or "" for c in sdk.chat.completions.create(stream=True, **fields) if c.choices
        )
    else:
        text = sdk.chat.completions.create(**fields).choices[0].message.content or ""
    assert isinstance(json.loads(text)["n"], int)


@pytest.mark.parametrize("stream", [False, True])
def test_completions(pytorch_proxy: ProxyThread, stream: bool) -> None:
    body = {"model": "qwen3", "prompt": "<|im_start|>user\n#reply: abc def<|im_end|>\n", "max_tokens": 20}
    if stream:
        events = post_sse(pytorch_proxy.base_url, "/v1/completions", {**body, "stream": True})
        assert "".join(e["choices"][0]["text"] for e in events.events if e.get("choices")) == "abc def"
        return
    answer = httpx.post(pytorch_proxy.base_url + "/v1/completions", json=body, timeout=30).json()
    assert answer["choices"][0]["text"] == "abc def"
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_echo_with_logprobs_is_refused_naming_the_lane(pytorch_proxy: ProxyThread) -> None:
    body = {"model": "qwen3", "prompt": "abc", "max_tokens": 1, "echo": True, "logprobs": 0}
    answer = httpx.post(pytorch_proxy.base_url + "/v1/completions", json=body, timeout=30)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "echo"
    assert "TrtllmService" in error["message"]
    assert "no logits" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_api(sdk: openai.OpenAI, stream: bool) -> None:
    reply = "#reply: <think>Short.</think>Bonjour"
    if not stream:
        response = sdk.responses.create(model="qwen3", input=reply)
        assert response.output_text == "Bonjour"
        assert response.status == "completed"
        return
    kinds, text = [], ""
    for event in sdk.responses.create(model="qwen3", input=reply, stream=True):
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
    assert text == "Bonjour"
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"


def test_tool_choice_required_forces_a_valid_call_through_the_servers_guide(sdk: openai.OpenAI) -> None:
    choice = sdk.chat.completions.create(
        model="qwen3",
        messages=_user("I'd rather chat."),
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=200,
        extra_body=NO_THINK,
    ).choices[0]
    calls = choice.message.tool_calls or []
    assert [call.function.name for call in calls] == ["get_weather"]  # type: ignore[union-attr]
    assert isinstance(json.loads(calls[0].function.arguments)["city"], str)  # type: ignore[union-attr]
    assert choice.finish_reason == "tool_calls"


def test_streamed_n_choices(pytorch_proxy: ProxyThread) -> None:
    events = post_sse(pytorch_proxy.base_url, "/v1/chat/completions", chat("a b", stream=True, n=2, **NO_THINK))
    texts = ["", ""]
    for event in events.events:
        for choice in event.get("choices", []):
            texts[choice["index"]] += choice["delta"].get("content") or ""
    assert texts == ["a b", "a b"]


def test_anthropic_messages_api(pytorch_proxy: ProxyThread) -> None:
    body = {"model": "qwen3", "max_tokens": 64, "messages": [{"role": "user", "content": "#reply: <think>k</think>Hi"}]}
    answer = httpx.post(
        pytorch_proxy.base_url + "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30
    ).json()
    assert [block["type"] for block in answer["content"]] == ["thinking", "text"]
    assert answer["content"][1]["text"] == "Hi"
    assert answer["stop_reason"] == "end_turn"
