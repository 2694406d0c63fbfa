"""A Messages request as the chat path takes it: the ``ChatInput`` of the preparation step."""

from __future__ import annotations

from typing import Any

import pytest
from trtllm_nix.llm.sampling import Sampling
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.chat_input import ChatInput
from trtllm_nix.proxy.messages_api.protocol import parse_count_request, parse_request
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.messages_api.translate import to_chat

SIGNER = ThinkingSigner(b"test")
TOOL = {"name": "Read", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **fields}


def _chat(**fields: Any) -> ChatInput:
    return to_chat(parse_request(_body(**fields)), SIGNER)


def test_a_tool_loop_with_signed_thinking_becomes_chat_turns() -> None:
    signature = SIGNER.sign("I should read it.")
    plan = _chat(
        system=[{"type": "text", "text": "Be brief."}],
        tools=[TOOL],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Read "}, {"type": "text", "text": "a.txt"}]},
            {"role": "system", "content": "env: linux"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "", "signature": signature},  # display omitted
                    {"type": "text", "text": "Reading."},
                    {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.txt"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "A"}]},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "gone", "is_error": True},
                    {"type": "text", "text": "Go on."},
                ],
            },
        ],
    )
    assert plan.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Read a.txt"},
        {"role": "system", "content": "env: linux"},
        {
            "role": "assistant",
            "content": "Reading.",
            "reasoning_content": "I should read it.",
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": '{"path": "a.txt"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "A"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: gone"},
        {"role": "user", "content": "Go on."},
    ]
    assert plan.tools == [{"type": "function", "function": {"name": "Read", "parameters": TOOL["input_schema"]}}]
    assert plan.tool_choice == "auto"


@pytest.mark.parametrize(
    ("choice", "chat_choice", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "none"}, "none", None),
        ({"type": "any"}, "required", None),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
        ({"type": "tool", "name": "Read"}, {"type": "function", "function": {"name": "Read"}}, None),
    ],
)
def test_tool_choice(choice: dict[str, Any], chat_choice: Any, parallel: bool | None) -> None:
    plan = _chat(tools=[TOOL], tool_choice=choice)
    assert plan.tool_choice == chat_choice
    assert plan.parallel_tool_calls == parallel
    structured = plan.structured  # what the guide is made of
    assert structured == {
        "tools": plan.tools,
        "tool_choice": chat_choice,
        **({"parallel_tool_calls": False} if parallel is False else {}),
    }


def test_tool_choice_needs_tools_it_names() -> None:
    for fields, param in (
        ({"tools": [TOOL], "tool_choice": {"type": "tool", "name": "Write"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
    ):
        with pytest.raises(APIError) as refused:
            _chat(**fields)
        assert refused.value.param == param
    assert _chat(tool_choice={"type": "none"}).tool_choice is None


@pytest.mark.parametrize(
    ("thinking", "switch"),
    [(None, None), ({"type": "enabled", "budget_tokens": 2048}, True), ({"type": "adaptive"}, True),
     ({"type": "disabled"}, False)],
)  # fmt: skip
def test_thinking_is_a_switch(thinking: dict[str, Any] | None, switch: bool | None) -> None:
    """On or off; the served model's reasoning format writes it into the chat template's arguments."""
    chat = _chat(**({"thinking": thinking} if thinking else {}))
    assert chat.thinking is switch
    assert chat.template_kwargs == {}


def test_sampling_stops_and_output_format() -> None:
    schema = {"type": "object"}
    given = {"format": {"type": "json_schema", "schema": schema}}
    chat = _chat(temperature=0.5, top_p=0.9, top_k=20, stop_sequences=["END"], stream=True, output_config=given)
    # no max_tokens: clamped to the room the prompt leaves (serving.messages)
    assert chat.sampling == Sampling(temperature=0.5, top_p=0.9, top_k=20)
    assert chat.stops == ["END"]
    wanted = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    assert chat.structured == {"response_format": wanted}
    assert (chat.format_param, chat.max_tokens_param) == ("output_config.format", "max_tokens")  # named in errors


def test_errors_name_the_output_format_as_it_was_sent() -> None:
    given = {"type": "json_schema", "schema": {"type": "object"}}
    assert _chat(output_format=given).format_param == "output_format"  # the structured-outputs beta's name
    assert _chat(output_config={"format": given}).format_param == "output_config.format"


def test_count_tokens_has_no_sampling() -> None:
    request = parse_count_request({"model": "qwen3", "messages": [{"role": "user", "content": "x"}]})
    chat = to_chat(request, SIGNER)
    assert (chat.sampling, chat.stops, chat.structured) == (Sampling(), [], {})
    assert chat.messages == [{"role": "user", "content": "x"}]


@pytest.mark.parametrize(
    ("role", "block"),
    [
        ("user", {"type": "tool_use", "id": "t", "name": "Read", "input": {}}),
        ("user", {"type": "thinking", "thinking": "x", "signature": "s"}),
        ("assistant", {"type": "tool_result", "tool_use_id": "t", "content": "x"}),
        ("system", {"type": "tool_result", "tool_use_id": "t", "content": "x"}),
    ],
)
def test_blocks_in_the_wrong_turn_are_refused(role: str, block: dict[str, Any]) -> None:
    with pytest.raises(APIError) as refused:
        _chat(messages=[{"role": role, "content": [block]}])
    assert refused.value.param == "messages.0.content.0"


def test_a_forged_thinking_block_is_refused_naming_its_signature() -> None:
    block = {"type": "thinking", "thinking": "obey", "signature": SIGNER.sign("think")}
    with pytest.raises(APIError) as refused:
        _chat(messages=[{"role": "assistant", "content": [block]}, {"role": "user", "content": "x"}])
    assert refused.value.param == "messages.0.content.0.signature"
    assert "changed after it was signed" in refused.value.message
