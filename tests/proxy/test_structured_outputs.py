"""Structured outputs and forced tool calls through the proxy, with the real openai SDK, against real Triton whose
reference backend constrains generation with xgrammar (guided decoding on in the served repository)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import openai
import pytest
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 12},
        "role": {"enum": ["admin", "user", "guest"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 1, "maxItems": 3},
        "address": {
            "type": "object",
            "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}, "city": {"type": "string"}},
            "required": ["zip", "city"],
            "additionalProperties": False,
        },
        "active": {"type": "boolean"},
    },
    "required": ["name", "role", "tags", "address", "active"],
    "additionalProperties": False,
}
WEATHER_PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TIME_PARAMS = {
    "type": "object",
    "properties": {"zone": {"type": "string", "maxLength": 8}},
    "required": ["zone"],
    "additionalProperties": False,
}
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMS}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME_PARAMS}},
]
PARAMS = {"get_weather": WEATHER_PARAMS, "get_time": TIME_PARAMS}
TWO_CALLS = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>'
)


@pytest.fixture(scope="module")
def guided_proxy(scripted_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    proxy = start_proxy(scripted_triton, assets, model_repository=scripted_triton.server.model_repository)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def guided_hf_proxy(hf_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    proxy = start_proxy(hf_triton, assets, reasoning_parser="none", model_repository=hf_triton.server.model_repository)
    yield proxy
    proxy.stop()


@pytest.fixture
def sdk(guided_proxy: ProxyThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=guided_proxy.base_url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


# Off-script answers with thinking off: the scripted stand-in, off its script, would wander inside the (unconstrained)
# think block; a prompt that closes the block is constrained from its first token (see proxy.structured).
NO_THINK: Any = {"chat_template_kwargs": {"enable_thinking": False}}


def _user(reply: str) -> list[Any]:
    return [{"role": "user", "content": f"#reply: {reply}"}]


def _valid(schema: dict[str, Any], text: str) -> Any:
    document = json.loads(text)
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, (text, errors)
    return document


def _chat(client: openai.OpenAI, stream: bool, **fields: Any) -> tuple[str, list[dict[str, Any]], str]:
    """Content, tool calls ({name, arguments}) and finish reason, streamed or not."""
    if not stream:
        choice = client.chat.completions.create(model="qwen3", max_tokens=300, **fields).choices[0]
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}  # type: ignore[union-attr]
            for c in choice.message.tool_calls or []
        ]
        return choice.message.content or "", calls, str(choice.finish_reason)
    content, finish = "", ""
    by_index: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(model="qwen3", max_tokens=300, stream=True, **fields):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for call in delta.tool_calls or []:
            merged = by_index.setdefault(call.index, {"id": call.id, "name": "", "arguments": ""})
            if call.function is not None:
                merged["name"] += call.function.name or ""
                merged["arguments"] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    return content, [by_index[i] for i in sorted(by_index)], finish


def _person_format() -> Any:
    return {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_off_script_output_still_fits_a_nested_schema(sdk: openai.OpenAI, stream: bool) -> None:
    content, calls, finish = _chat(
        sdk, stream, messages=_user("Sure, here you go."), response_format=_person_format(), extra_body=NO_THINK
    )
    person = _valid(PERSON, content)
    assert person["role"] in ("admin", "user", "guest")
    assert calls == []
    assert finish == "stop"


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_a_fitting_answer_is_kept_exactly(sdk: openai.OpenAI, stream: bool) -> None:
    answer = {"name": "Ada", "role": "admin", "tags": ["x", "yz"], "address": {"zip": "12345", "city": "Oslo"}}
    text = json.dumps({**answer, "active": True}, separators=(",", ":"))
    content, _, _ = _chat(sdk, stream, messages=_user(text), response_format=_person_format())
    assert content == text


def test_json_object_turns_prose_into_json(sdk: openai.OpenAI) -> None:
    content, _, finish = _chat(
        sdk, False, messages=_user("not json at all"), response_format={"type": "json_object"}, extra_body=NO_THINK
    )
    assert isinstance(json.loads(content), (dict, list, str, int, float, bool, type(None)))
    assert finish == "stop"


def test_completions_honour_response_format(sdk: openai.OpenAI) -> None:
    result = sdk.completions.create(
        model="qwen3",
        prompt="<|im_start|>user\n#reply: nope<|im_end|>\n<|im_start|>assistant\n",
        max_tokens=300,
        extra_body={"response_format": _person_format()},
    )
    _valid(PERSON, result.choices[0].text)


def test_vllm_guided_choice_extra(sdk: openai.OpenAI) -> None:
    content, _, _ = _chat(sdk, False, messages=_user("maybe"), extra_body={"guided_choice": ["yes", "no"], **NO_THINK})
    assert content in ("yes", "no")


@pytest.mark.parametrize("stream", [False, True])
def test_tool_choice_required_forces_valid_calls(sdk: openai.OpenAI, stream: bool) -> None:
    content, calls, finish = _chat(
        sdk, stream, messages=_user("I'd rather chat."), tools=TOOLS, tool_choice="required", extra_body=NO_THINK
    )
    assert calls
    assert finish == "tool_calls"
    assert content == ""
    for call in calls:
        _valid(PARAMS[call["name"]], call["arguments"])
        assert call["id"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_named_tool_choice_calls_that_tool(sdk: openai.OpenAI, stream: bool) -> None:
    choice: Any = {"type": "function", "function": {"name": "get_time"}}
    _, calls, finish = _chat(sdk, stream, messages=_user(TWO_CALLS), tools=TOOLS, tool_choice=choice)
    assert [call["name"] for call in calls] == ["get_time"]
    assert finish == "tool_calls"
    _valid(TIME_PARAMS, calls[0]["arguments"])


@pytest.mark.parametrize("choice", ["auto", "required"])
@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls_false_gives_at_most_one_call(sdk: openai.OpenAI, choice: str, stream: bool) -> None:
    fields: Any = {"tools": TOOLS, "tool_choice": choice, "parallel_tool_calls": False}
    _, calls, finish = _chat(sdk, stream, messages=_user(TWO_CALLS), **fields)
    assert [call["name"] for call in calls] == ["get_weather"]
    assert finish == "tool_calls"
    assert json.loads(calls[0]["arguments"]) == {"city": "Oslo", "unit": "c"}


def test_parallel_calls_stay_when_allowed(sdk: openai.OpenAI) -> None:
    _, calls, _ = _chat(sdk, False, messages=_user(TWO_CALLS), tools=TOOLS, tool_choice="required")
    assert [call["name"] for call in calls] == ["get_weather", "get_time"]


def test_a_random_model_forced_to_call_a_tool_calls_it_validly(guided_hf_proxy: ProxyThread) -> None:
    with openai.OpenAI(base_url=guided_hf_proxy.base_url + "/v1", api_key="unused", max_retries=0) as client:
        choice: Any = {"type": "function", "function": {"name": "get_weather"}}
        _, calls, finish = _chat(
            client, False, messages=[{"role": "user", "content": "hi"}], tools=TOOLS, tool_choice=choice, temperature=0
        )
    assert [call["name"] for call in calls] == ["get_weather"]
    assert finish == "tool_calls"
    _valid(WEATHER_PARAMS, calls[0]["arguments"])


def _refused(client: openai.OpenAI, **fields: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen3", messages=_user("x"), max_tokens=20, **fields)
    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    return body


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format", "needs guided decoding"),
        ({"tools": TOOLS, "tool_choice": "required"}, "tool_choice", "needs guided decoding"),
        ({"extra_body": {"guided_regex": "[a-z]+"}}, "guided_regex", "needs guided decoding"),
    ],
)
def test_guided_decoding_off_is_a_400_never_a_silent_fallback(
    client: openai.OpenAI, fields: dict[str, Any], param: str, words: str
) -> None:
    body = _refused(client, **fields)  # the session's scripted proxy: started without --model-repository
    assert body["param"] == param
    assert words in body["message"]


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"not": {}}}}},
            "response_format",
            "'not'",
        ),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice", "nope"),
        ({"response_format": {"type": "yaml"}}, "response_format.type", "not supported"),
        (
            {"response_format": {"type": "json_object"}, "tools": TOOLS, "tool_choice": "required"},
            "tool_choice",
            "send only one",
        ),
    ],
)
def test_structured_requests_that_cannot_be_honoured_are_400s(
    sdk: openai.OpenAI, fields: dict[str, Any], param: str, words: str
) -> None:
    body = _refused(sdk, **fields)
    assert body["param"] == param
    assert words in body["message"]


def test_the_model_card_says_whether_guided_decoding_is_on(sdk: openai.OpenAI, client: openai.OpenAI) -> None:
    on = sdk.models.list().data[0].model_extra or {}
    off = client.models.list().data[0].model_extra or {}
    assert on["capabilities"] == {"guided_decoding": True, "tools": True}
    assert off["capabilities"] == {"guided_decoding": False, "tools": True}


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_time"}}])
def test_off_script_with_thinking_on_a_forced_call_still_completes(sdk: openai.OpenAI, choice: Any) -> None:
    """What pydantic-ai's default output_type and smolagents' ToolCallingAgent send the demo: a forced call, thinking
    on (Qwen3's default), a prompt with no script. The scripted stand-in used to open the optional think block and
    write ``"`` until max_tokens (the think block's free text allows it for ever); a model must reach the call."""
    content, calls, finish = _chat(sdk, False, messages=_user("Plan a trip."), tools=TOOLS, tool_choice=choice)
    assert finish == "tool_calls", content
    assert calls
    for call in calls:
        _valid(PARAMS[call["name"]], call["arguments"])
