"""``/v1/responses`` with ``text.format``, forced tool choices and ``parallel_tool_calls: false``: the real openai
SDK (``responses.create``, ``responses.stream``, ``responses.parse``) against real Triton whose reference backend
constrains generation with xgrammar (guided decoding on in the served repository)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import jsonschema_rs
import openai
import pytest
from pydantic import BaseModel, Field
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.test_structured_outputs import PARAMS, PERSON, TIME_PARAMS, TWO_CALLS, WEATHER_PARAMS

TOOLS: Any = [
    {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMS, "strict": True},
    {"type": "function", "name": "get_time", "parameters": TIME_PARAMS},
]
PERSON_FORMAT: Any = {"format": {"type": "json_schema", "name": "person", "schema": PERSON, "strict": True}}
# Off-script answers with thinking off: the answer is constrained from its first token (with thinking on, an optional
# think block may come first: test_off_script_with_thinking_on_...).
NO_THINK: Any = {"effort": "none"}


class City(BaseModel):
    name: str = Field(max_length=10)
    country: Literal["no", "se", "dk"]
    population: int


@pytest.fixture(scope="module")
def sdk(scripted_triton: RunningTriton, assets: Assets) -> Iterator[openai.OpenAI]:
    proxy = start_proxy(scripted_triton, assets, model_repository=scripted_triton.server.model_repository)
    with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0) as client:
        yield client
    proxy.stop()


def _valid(schema: dict[str, Any], text: str) -> Any:
    document = json.loads(text)
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, (text, errors)
    return document


def _respond(client: openai.OpenAI, stream: bool, **fields: Any) -> Any:
    """The final response, created or streamed (then the deltas must add up to it)."""
    fields = {"model": "qwen3", "max_output_tokens": 300, **fields}
    if not stream:
        return client.responses.create(**fields)
    with client.responses.stream(**fields) as events:
        seen = list(events)
        final = events.get_final_response()
    text = "".join(event.delta for event in seen if event.type == "response.output_text.delta")
    assert text == final.output_text
    arguments = [e.arguments for e in seen if e.type == "response.function_call_arguments.done"]
    assert arguments == [item.arguments for item in final.output if item.type == "function_call"]
    return final


def _calls(response: Any) -> list[Any]:
    return [item for item in response.output if item.type == "function_call"]


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_strict_off_script_still_fits(sdk: openai.OpenAI, stream: bool) -> None:
    response = _respond(sdk, stream, input="#reply: Sure, here you go.", text=PERSON_FORMAT, reasoning=NO_THINK)
    assert response.status == "completed"
    assert _valid(PERSON, response.output_text)["role"] in ("admin", "user", "guest")
    assert response.text.format.type == "json_schema"


def test_off_script_with_thinking_on_the_stand_in_answers_without_wandering_into_a_think_block(
    sdk: openai.OpenAI,
) -> None:
    """What Codex's ``--output-schema`` sends (no effort: thinking stays on). The scripted fallback once picked the
    lowest allowed token, ``<``, spelled ``<think>`` and then wrote ``"`` until the limit."""
    response = _respond(sdk, False, input="#reply: Sure, here you go.", text=PERSON_FORMAT)
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["message"]
    _valid(PERSON, response.output_text)


def test_json_object_turns_prose_into_json(sdk: openai.OpenAI) -> None:
    response = _respond(
        sdk, False, input="#reply: not json at all", text={"format": {"type": "json_object"}}, reasoning=NO_THINK
    )
    json.loads(response.output_text)


@pytest.mark.parametrize("stream", [False, True])
def test_parse_with_a_pydantic_model(sdk: openai.OpenAI, stream: bool) -> None:
    if stream:
        with sdk.responses.stream(
            model="qwen3", input="#reply: Oslo, I think.", text_format=City, reasoning=NO_THINK, max_output_tokens=300
        ) as events:
            list(events)
            parsed = events.get_final_response().output_parsed
    else:
        parsed = sdk.responses.parse(
            model="qwen3", input="#reply: Oslo, I think.", text_format=City, reasoning=NO_THINK, max_output_tokens=300
        ).output_parsed
    assert isinstance(parsed, City)
    assert len(parsed.name) <= 10


def test_a_fitting_script_is_kept_exactly_with_thinking_on(sdk: openai.OpenAI) -> None:
    answer = '{"name":"Oslo","country":"no","population":700000}'
    response = sdk.responses.parse(
        model="qwen3", input=f"#reply: <think>\nA city.\n</think>\n\n{answer}", text_format=City
    )
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output_text == answer
    assert response.output_parsed == City(name="Oslo", country="no", population=700000)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_choice_required_forces_valid_calls(sdk: openai.OpenAI, stream: bool) -> None:
    response = _respond(
        sdk, stream, input="#reply: I'd rather chat.", tools=TOOLS, tool_choice="required", reasoning=NO_THINK
    )
    calls = _calls(response)
    assert calls
    assert response.output_text == ""
    for call in calls:
        _valid(PARAMS[call.name], call.arguments)
        assert call.call_id


@pytest.mark.parametrize("stream", [False, True])
def test_a_named_function_is_the_one_called(sdk: openai.OpenAI, stream: bool) -> None:
    choice: Any = {"type": "function", "name": "get_time"}
    response = _respond(sdk, stream, input="#reply: " + TWO_CALLS, tools=TOOLS, tool_choice=choice)
    calls = _calls(response)
    assert [call.name for call in calls] == ["get_time"]
    _valid(TIME_PARAMS, calls[0].arguments)


@pytest.mark.parametrize("choice", ["auto", "required"])
@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls_false_gives_one_call(sdk: openai.OpenAI, choice: str, stream: bool) -> None:
    fields: Any = {"tools": TOOLS, "tool_choice": choice, "parallel_tool_calls": False}
    response = _respond(sdk, stream, input="#reply: " + TWO_CALLS, **fields)
    assert [(call.name, json.loads(call.arguments)) for call in _calls(response)] == [
        ("get_weather", {"city": "Oslo", "unit": "c"})
    ]
    assert response.parallel_tool_calls is False


def test_parallel_calls_stay_when_allowed(sdk: openai.OpenAI) -> None:
    response = _respond(sdk, False, input="#reply: " + TWO_CALLS, tools=TOOLS, tool_choice="required")
    assert [call.name for call in _calls(response)] == ["get_weather", "get_time"]


def _refused(client: openai.OpenAI, **fields: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="qwen3", input="x", max_output_tokens=20, **fields)
    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    return body


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"text": {"format": {"type": "json_schema", "name": "n", "schema": {"not": {}}}}}, "text.format", "'not'"),
        ({"text": {"format": {"type": "json_object"}}, "tools": TOOLS, "tool_choice": "required"}, "tool_choice",
         "text.format and tool_choice"),
        ({"tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {"x": {
            "type": "number", "minimum": 1}}}}], "tool_choice": "required"}, "tools[f].parameters", "'minimum'"),
    ],
)  # fmt: skip
def test_what_cannot_be_honoured_is_a_400(sdk: openai.OpenAI, fields: dict[str, Any], param: str, words: str) -> None:
    body = _refused(sdk, **fields)
    assert body["param"] == param
    assert words in body["message"]


def test_without_guided_decoding_a_forced_tool_choice_is_a_400(client: openai.OpenAI) -> None:
    body = _refused(client, tools=TOOLS, tool_choice="required")  # the session proxy: no --model-repository
    assert body["param"] == "tool_choice"
    assert "needs guided decoding" in body["message"]


def test_a_random_model_forced_to_call_a_tool_calls_it_validly(hf_triton: RunningTriton, assets: Assets) -> None:
    # This prompt once made the random model put a raw tab into a length-bounded string (xgrammar 0.1.25 allows it
    # there; proxy.grammar.LOOSE_STRING_CHAR), so the call did not parse and came back as text.
    proxy = start_proxy(hf_triton, assets, reasoning_parser="none", model_repository=hf_triton.server.model_repository)
    try:
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0) as client:
            choice: Any = {"type": "function", "name": "get_weather"}
            response = _respond(client, True, input="hi", tools=TOOLS, tool_choice=choice, temperature=0)
    finally:
        proxy.stop()
    calls = _calls(response)
    assert [call.name for call in calls] == ["get_weather"]
    _valid(WEATHER_PARAMS, calls[0].arguments)
