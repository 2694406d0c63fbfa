"""``/v1/messages`` with forced tool choices (``any``, ``tool``), ``disable_parallel_tool_use`` and
``output_config.format``: the real Anthropic SDK against real Triton whose reference backend constrains generation
with xgrammar (guided decoding on in the served repository)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import jsonschema_rs
import pytest
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.test_structured_outputs import PERSON, TIME_PARAMS, TWO_CALLS, WEATHER_PARAMS

TOOLS: Any = [
    {"name": "get_weather", "input_schema": WEATHER_PARAMS},
    {"name": "get_time", "input_schema": TIME_PARAMS},
]
NO_THINK: Any = {"type": "disabled"}  # off script the answer is constrained from its first token


@pytest.fixture(scope="module")
def sdk(scripted_triton: RunningTriton, assets: Assets) -> Iterator[anthropic.Anthropic]:
    proxy = start_proxy(scripted_triton, assets, model_repository=scripted_triton.server.model_repository)
    with anthropic.Anthropic(base_url=proxy.base_url, api_key="unused", max_retries=0) as client:
        yield client
    proxy.stop()


def _create(client: anthropic.Anthropic, stream: bool, **fields: Any) -> Any:
    fields = {"model": "qwen3", "max_tokens": 300, **fields}
    if not stream:
        return client.messages.create(**fields)
    with client.messages.stream(**fields) as events:
        seen = list(events)
        final = events.get_final_message()
    pieces: dict[int, str] = {}
    for event in seen:
        if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
            pieces[event.index] = pieces.get(event.index, "") + event.delta.partial_json
    assert {index: json.loads(text) for index, text in pieces.items()} == {
        index: block.input for index, block in enumerate(final.content) if block.type == "tool_use"
    }
    return final


def _calls(message: Any) -> list[Any]:
    return [block for block in message.content if block.type == "tool_use"]


def _valid(schema: dict[str, Any], document: Any) -> None:
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, (document, errors)


@pytest.mark.parametrize("stream", [False, True])
def test_any_forces_valid_calls_off_script(sdk: anthropic.Anthropic, stream: bool) -> None:
    message = _create(
        sdk, stream, messages=[{"role": "user", "content": "#reply: I'd rather chat."}], tools=TOOLS,
        tool_choice={"type": "any"}, thinking=NO_THINK,
    )  # fmt: skip
    calls = _calls(message)
    assert calls
    assert message.stop_reason == "tool_use"
    for call in calls:
        _valid({"get_weather": WEATHER_PARAMS, "get_time": TIME_PARAMS}[call.name], call.input)


@pytest.mark.parametrize("stream", [False, True])
def test_a_named_tool_is_the_one_called(sdk: anthropic.Anthropic, stream: bool) -> None:
    message = _create(
        sdk, stream, messages=[{"role": "user", "content": "#reply: " + TWO_CALLS}], tools=TOOLS,
        tool_choice={"type": "tool", "name": "get_time"}, thinking=NO_THINK,
    )  # fmt: skip
    assert [call.name for call in _calls(message)] == ["get_time"]


@pytest.mark.parametrize("choice", [{"type": "auto"}, {"type": "any"}])
def test_disable_parallel_tool_use_gives_one_call(sdk: anthropic.Anthropic, choice: dict[str, Any]) -> None:
    message = _create(
        sdk, False, messages=[{"role": "user", "content": "#reply: " + TWO_CALLS}], tools=TOOLS,
        tool_choice={**choice, "disable_parallel_tool_use": True}, thinking=NO_THINK,
    )  # fmt: skip
    assert [call.name for call in _calls(message)] == ["get_weather"]


def test_parallel_calls_stay_when_allowed(sdk: anthropic.Anthropic) -> None:
    message = _create(sdk, False, messages=[{"role": "user", "content": "#reply: " + TWO_CALLS}], tools=TOOLS)
    assert [call.name for call in _calls(message)] == ["get_weather", "get_time"]


@pytest.mark.parametrize("stream", [False, True])
def test_output_config_format_holds_the_answer_to_the_schema(sdk: anthropic.Anthropic, stream: bool) -> None:
    message = _create(
        sdk, stream, messages=[{"role": "user", "content": "#reply: Sure, here you go."}], thinking=NO_THINK,
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": PERSON}}},
    )  # fmt: skip
    _valid(PERSON, json.loads(message.content[0].text))


def test_what_cannot_be_honoured_names_the_messages_field(sdk: anthropic.Anthropic) -> None:
    unenforced = {"type": "object", "properties": {"n": {"type": "number", "multipleOf": 3}}}
    with pytest.raises(anthropic.BadRequestError) as refused:
        _create(
            sdk, False, messages=[{"role": "user", "content": "x"}],
            extra_body={"output_config": {"format": {"type": "json_schema", "schema": unenforced}}},
        )  # fmt: skip
    assert "output_config.format" in refused.value.message
    assert "response_format" not in refused.value.message
    with pytest.raises(anthropic.BadRequestError) as unknown_tool:
        _create(
            sdk,
            False,
            messages=[{"role": "user", "content": "x"}],
            tools=TOOLS,
            tool_choice={"type": "tool", "name": "nope"},
        )
    assert "nope" in unknown_tool.value.message
