"""The request body: every field is honoured, ignored on purpose, or refused with a 400 that says what to send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.responses_api.protocol import (
    HOSTED_TOOL_TYPES,
    IGNORED_ON_PURPOSE,
    FunctionCallItem,
    MessageItem,
    ReasoningItem,
    parse_request,
)

F = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}


def refused(body: dict[str, Any]) -> APIError:
    with pytest.raises(APIError) as caught:
        parse_request({"model": "m", **body})
    assert caught.value.status == 400
    return caught.value


def test_a_string_input_and_the_defaults() -> None:
    request = parse_request({"model": "m", "input": "hi"})
    assert request.input == "hi"
    assert request.store is True
    assert request.parallel_tool_calls is True
    assert request.tool_choice == "auto"


def test_every_item_kind_parses() -> None:
    request = parse_request(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "t"}]},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}", "status": "completed"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
                 "content": [{"type": "output_text", "text": "Sunny.", "annotations": [], "logprobs": []}]},
            ],
        }
    )  # fmt: skip
    assert isinstance(request.input, list)
    assert [type(item) for item in request.input][:3] == [MessageItem, ReasoningItem, FunctionCallItem]


def test_an_unknown_field_is_refused_by_name() -> None:
    error = refused({"input": "hi", "frobnicate": 1})
    assert error.param == "frobnicate"
    assert "unknown field 'frobnicate'" in error.message


def test_an_unknown_field_inside_an_item_is_refused_with_its_path() -> None:
    error = refused({"input": [{"role": "user", "content": "hi", "colour": "red"}]})
    assert error.param == "input[0].colour"


def test_an_image_is_refused_clearly() -> None:
    part = {"type": "input_image", "image_url": "https://example.com/cat.png"}
    error = refused({"input": [{"role": "user", "content": [{"type": "input_text", "text": "what?"}, part]}]})
    assert error.param == "input[0].content[1]"
    assert "text only" in error.message


@pytest.mark.parametrize(
    "kind", ["custom", "shell", "local_shell", "apply_patch", "computer", "computer_use_preview", "made_up", None]
)
def test_a_tool_whose_calls_are_not_function_calls_is_refused_by_one_rule(kind: str | None) -> None:
    error = refused({"input": "hi", "tools": [{"type": "function", "name": "f"}, {"type": kind}]})
    assert error.param == "tools[1].type"
    assert "come back as function_call items" in error.message


@pytest.mark.parametrize("kind", sorted(HOSTED_TOOL_TYPES))
def test_a_hosted_tool_is_kept_aside_not_offered(kind: str) -> None:
    request = parse_request({"model": "m", "input": "hi", "tools": [{"type": kind, "any": "option"}, F]})
    assert request.skipped_tools() == [kind]
    assert list(request.functions()) == ["f"]


def test_a_namespace_offers_its_functions_under_qualified_names() -> None:
    crm = {"type": "namespace", "name": "crm", "description": "CRM", "tools": [F, {**F, "name": "g"}]}
    request = parse_request({"model": "m", "input": "hi", "tools": [F, crm]})
    assert {name: namespace for name, (namespace, _) in request.functions().items()} == {
        "f": None,
        "crm.f": "crm",
        "crm.g": "crm",
    }
    assert request.skipped_tools() == []


def test_a_function_offered_twice_is_refused() -> None:
    crm = {"type": "namespace", "name": "crm", "description": "CRM", "tools": [F]}
    assert "'f' twice" in refused({"input": "hi", "tools": [F, F]}).message
    assert "'crm.f' twice" in refused({"input": "hi", "tools": [crm, {**F, "name": "crm.f"}]}).message


def test_a_namespace_holds_functions_only() -> None:
    crm = {"type": "namespace", "name": "crm", "description": "CRM", "tools": [F, {"type": "custom", "name": "patch"}]}
    error = refused({"input": "hi", "tools": [crm]})
    assert error.param == "tools[0].tools[1].type"
    assert refused({"input": "hi", "tools": [{**crm, "tools": [{**F, "bogus": 1}]}]}).param == "tools[0].tools[0].bogus"
    assert (
        refused({"input": "hi", "tools": [{**crm, "description": None, "tools": [F]}]}).param == "tools[0].description"
    )


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        ("truncation", "auto", "only 'disabled'"),
        ("background", True, "background responses"),
        ("top_logprobs", 3, "logprobs"),
        ("max_tool_calls", 2, "max_tool_calls"),
        ("tool_choice", {"type": "web_search_preview"}, "hosted-tool"),
        ("tool_choice", {"type": "web_search"}, "hosted-tool"),
    ],
)
def test_values_this_server_cannot_honour_are_refused_with_a_hint(field: str, value: Any, hint: str) -> None:
    error = refused({"input": "hi", field: value})
    assert error.param == field
    assert hint in error.message


def test_the_logprobs_include_is_refused_and_the_others_accepted() -> None:
    assert "logprobs" in refused({"input": "hi", "include": ["message.output_text.logprobs"]}).message
    parse_request({"model": "m", "input": "hi", "include": ["reasoning.encrypted_content"]})


def test_a_hand_written_agent_request_with_the_ignored_fields_is_accepted() -> None:
    body = {
        "model": "m",
        "instructions": "be brief",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [{"type": "function", "name": "shell", "description": "run", "strict": False,
                   "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "abc",
        "text": {"verbosity": "medium", "format": {"type": "text"}},
        "truncation": "disabled",
        "service_tier": "auto",
        "user": "u",
        "metadata": {"k": "v"},
    }  # fmt: skip
    request = parse_request(body)
    assert request.reasoning is not None
    assert request.reasoning.wants_summary()
    ignored = {key for key in body if key in IGNORED_ON_PURPOSE}
    assert ignored == {"include", "prompt_cache_key", "truncation", "service_tier", "user"}


@pytest.mark.parametrize("recorded", sorted((Path(__file__).parent / "codex").glob("*.json")), ids=lambda p: p.stem)
def test_what_the_real_codex_cli_sent_is_accepted(recorded: Path) -> None:
    body = json.loads(recorded.read_text("utf-8"))
    request = parse_request(body)
    assert request.skipped_tools() == ["web_search"]
    assert "exec_command" in request.functions()
    assert any(name.startswith("multi_agent_v1.") for name in request.functions())
    assert {key for key in body if key in IGNORED_ON_PURPOSE} == {"include", "prompt_cache_key", "client_metadata"}


def test_bad_values_name_their_field() -> None:
    assert refused({"input": "hi", "temperature": 3}).param == "temperature"
    assert refused({"input": "hi", "max_output_tokens": 0}).param == "max_output_tokens"
    assert refused({"input": [{"type": "function_call", "name": "f"}]}).param == "input[0].call_id"
    assert refused({"input": [{"type": "item_reference"}]}).param == "input[0].id"
    assert refused({"input": [{"type": "shell_call"}]}).param == "input[0].type"


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(APIError) as caught:
        parse_request(["model"])
    assert caught.value.status == 400
