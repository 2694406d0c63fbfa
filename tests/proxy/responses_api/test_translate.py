"""A Responses request in chat terms, rendered by the project's real Qwen3-style chat template."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
from trtllm_nix.llm.model_files import ChatTemplate
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.responses_api.protocol import parse_request
from trtllm_nix.proxy.responses_api.translate import conversation_of, thinking_switch, to_chat

TEMPLATE = ChatTemplate(files("trtllm_nix_testkit.assets").joinpath("chat_template.jinja").read_text("utf-8"))
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}  # fmt: skip


def plan(**body: Any) -> Any:
    request = parse_request({"model": "m", **body})
    return to_chat(request, conversation_of(request))


def test_a_string_input_with_instructions() -> None:
    request = parse_request({"model": "m", "input": "Hello", "instructions": "Be brief."})
    result = to_chat(request, conversation_of(request))
    assert result.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    assert conversation_of(request) == [{"role": "user", "content": "Hello"}]  # what a later request continues
    prompt = TEMPLATE.render(result.messages, result.tools)
    assert prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_a_function_tool_round_trip_becomes_one_assistant_turn_and_a_tool_result() -> None:
    result = plan(
        input=[
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Call the tool."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 21 C"},
        ],
        tools=[WEATHER],
    )
    assert result.messages == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "Call the tool.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
    ]  # fmt: skip
    assert result.tools == [{"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}]
    prompt = TEMPLATE.render(result.messages, result.tools)
    assert '"name": "get_weather"' in prompt  # the tool is described to the model
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>' in prompt
    assert "<tool_response>\nsunny, 21 C\n</tool_response>" in prompt
    assert "<think>\nCall the tool.\n</think>" in prompt  # reasoning of the current tool loop is kept


def test_replayed_output_items_split_into_turns() -> None:
    result = plan(
        input=[
            {"role": "user", "content": "a"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "b"}]},
            {"role": "user", "content": "c"},
            {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "r"}], "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "d"}]},
            {"type": "function_call", "call_id": "x", "name": "f", "arguments": "{}"},
            {"type": "message", "role": "assistant", "content": "after"},
        ]
    )
    turns = [
        (m["role"], m["content"], m.get("reasoning_content"), len(m.get("tool_calls", []))) for m in result.messages
    ]
    assert turns == [
        ("user", "a", None, 0),
        ("assistant", "b", None, 0),
        ("user", "c", None, 0),
        ("assistant", "d", "r", 1),
        ("assistant", "after", None, 0),
    ]  # fmt: skip


def test_previous_turns_come_first_and_instructions_are_not_carried_over() -> None:
    previous = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    request = parse_request({"model": "m", "input": "And you?", "instructions": "New."})
    result = to_chat(request, conversation_of(request, previous))
    assert result.messages == [
        {"role": "system", "content": "New."},
        *previous,
        {"role": "user", "content": "And you?"},
    ]
    assert conversation_of(request, previous) == [*previous, {"role": "user", "content": "And you?"}]


def test_an_empty_input_is_refused() -> None:
    with pytest.raises(APIError, match="input is empty"):
        plan(input=[])


@pytest.mark.parametrize(
    ("effort", "switch"),
    [(None, None), ("none", False), ("minimal", False), ("low", True), ("medium", True), ("high", True),
     ("xhigh", True)],
)  # fmt: skip
def test_reasoning_effort_is_qwen3s_thinking_switch(effort: Any, switch: bool | None) -> None:
    assert thinking_switch(effort) is switch
    result = plan(input="x", reasoning={"effort": effort} if effort else None)
    assert result.thinking is switch  # the served model's reasoning format writes the template's switch


def test_thinking_off_renders_the_closed_think_block() -> None:
    result = plan(input="x", reasoning={"effort": "none"})
    kwargs = Qwen3Reasoning().template_kwargs(result.thinking)
    prompt = TEMPLATE.render(result.messages, result.tools, **kwargs)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_text_format_becomes_the_chat_response_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    result = plan(input="x", text={"format": {"type": "json_schema", "name": "N", "schema": schema, "strict": True}})
    assert result.structured["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "N", "schema": schema, "strict": True},
    }
    json_object = plan(input="x", text={"format": {"type": "json_object"}})
    assert json_object.structured == {"response_format": {"type": "json_object"}}
    assert plan(input="x", text={"format": {"type": "text"}}).structured == {}


def test_sampling_limits_and_tool_settings_carry_over() -> None:
    chat = plan(
        input="x", max_output_tokens=64, temperature=0.2, top_p=0.5, tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"}, parallel_tool_calls=False,
    )  # fmt: skip
    assert (chat.sampling.max_tokens, chat.sampling.temperature, chat.sampling.top_p) == (64, 0.2, 0.5)
    assert chat.tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    assert chat.parallel_tool_calls is False
    assert (chat.format_param, chat.max_tokens_param) == ("text.format", "max_output_tokens")  # named in errors


def test_tool_choice_must_name_a_given_tool() -> None:
    with pytest.raises(APIError, match="not in tools"):
        plan(input="x", tools=[WEATHER], tool_choice={"type": "function", "name": "other"})
    with pytest.raises(APIError, match="needs function tools"):
        plan(input="x", tool_choice="required")


def test_a_namespace_is_offered_as_qualified_functions_and_its_calls_replay_so() -> None:
    crm = {"type": "namespace", "name": "crm", "description": "The customer database.",
           "tools": [{"type": "function", "name": "lookup", "description": "Find a customer."}]}  # fmt: skip
    result = plan(
        input=[
            {"role": "user", "content": "Who is 7?"},
            {"type": "function_call", "call_id": "c1", "name": "lookup", "namespace": "crm", "arguments": '{"id":7}'},
            {"type": "function_call_output", "call_id": "c1", "name": "lookup", "namespace": "crm", "output": "Ada"},
        ],
        tools=[WEATHER, crm, {"type": "web_search"}],
        tool_choice={"type": "function", "name": "crm.lookup"},
    )
    assert [tool["function"]["name"] for tool in result.tools] == ["get_weather", "crm.lookup"]
    assert result.tools[1]["function"]["description"] == "The customer database.\n\nFind a customer."
    assert result.messages[1]["tool_calls"][0]["function"]["name"] == "crm.lookup"
    assert result.tool_choice == {"type": "function", "function": {"name": "crm.lookup"}}
    prompt = TEMPLATE.render(result.messages, result.tools)
    assert '"name": "crm.lookup"' in prompt
    assert "web_search" not in prompt  # a hosted tool is not offered


def test_required_with_only_hosted_tools_is_refused() -> None:
    with pytest.raises(APIError) as caught:
        plan(input="hi", tools=[{"type": "web_search"}], tool_choice="required")
    assert caught.value.param == "tool_choice"
    assert "hosted tools are not offered" in caught.value.message
