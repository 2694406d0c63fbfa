"""The Messages request, strict: honoured, ignored on purpose (accepted), or refused with a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.messages_api.protocol import (
    IGNORED_ON_PURPOSE,
    ThinkingAdaptive,
    parse_count_request,
    parse_request,
)
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.messages_api.translate import to_chat

BASE: dict[str, Any] = {"model": "qwen3", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
CACHE = {"type": "ephemeral"}


def _refused(body: Any) -> APIError:
    with pytest.raises(APIError) as refused:
        parse_request(body)
    assert refused.value.status == 400
    return refused.value


def test_what_claude_code_sends_is_accepted() -> None:
    # The shape recorded in ../shared/research/turn3-clients.md section 4.2 (Claude Code 2.1.332), shortened.
    request = parse_request(
        {
            "model": "qwen3",
            "max_tokens": 32000,
            "stream": True,
            "system": [
                {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;"},
                {"type": "text", "text": "You are Claude Code.", "cache_control": CACHE},
                {"type": "text", "text": "The main prompt.", "cache_control": CACHE},
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "<system-reminder>...</system-reminder>"},
                        {"type": "text", "text": "Read hello.txt", "cache_control": CACHE},
                    ],
                },
                {"role": "system", "content": [{"type": "text", "text": "<env>...</env>", "cache_control": CACHE}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "I should read the file.", "signature": "sig"},
                        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/t/hello.txt"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"tool_use_id": "toolu_1", "type": "tool_result", "content": "1\thello", "cache_control": CACHE}
                    ],
                },
            ],
            "tools": [
                {
                    "name": "Read",
                    "description": "Reads a file",
                    "input_schema": {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "type": "object",
                        "properties": {
                            "file_path": {"type": "string"},
                            "limit": {"type": "integer", "exclusiveMinimum": 0},
                        },
                        "required": ["file_path"],
                        "additionalProperties": False,
                    },
                },
                {"name": "DeferredToolPlaceholder", "input_schema": {"type": "object"}, "defer_loading": True},
            ],
            "thinking": {"type": "adaptive", "display": "omitted"},  # 2.1.332 also sends "updates" (next test)
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "medium"},
            "metadata": {"user_id": '{"device_id": "abc"}'},
            # the SDK's other request-level options (anthropic 2.17.0), ignored on purpose
            "cache_control": CACHE,
            "speed": "fast",
            "diagnostics": {"previous_message_id": None},
            "service_tier": "auto",
            "inference_geo": "us",
        }
    )
    assert isinstance(request.thinking, ThinkingAdaptive)
    assert not request.thinking_display()
    assert request.system_text() == "You are Claude Code.\n\nThe main prompt."  # the billing line dropped
    assert request.output_schema() is None


@pytest.mark.parametrize(
    ("display", "shown"), [(None, True), ("summarized", True), ("updates", True), ("omitted", False)]
)
def test_thinking_is_shown_unless_omitted(display: str | None, shown: bool) -> None:
    thinking = {"type": "adaptive"} if display is None else {"type": "adaptive", "display": display}
    assert parse_request({**BASE, "thinking": thinking}).thinking_display() is shown


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"type": "image", "source": {}}, "text only"),
        ({"type": "document", "source": {}}, "text only"),
        ({"type": "redacted_thinking", "data": "x"}, "never redacts"),
        ({"type": "server_tool_use", "id": "x", "name": "web_search", "input": {}}, "server tools"),
        ({"type": "video"}, "supported: text, tool_use"),
    ],
)
def test_blocks_this_server_cannot_read_are_refused_with_the_reason(block: dict[str, Any], words: str) -> None:
    error = _refused({**BASE, "messages": [{"role": "user", "content": [block]}]})
    assert words in error.message
    assert error.param is not None
    assert error.param.startswith("messages.0.content.0")


def test_an_image_inside_a_tool_result_is_refused() -> None:
    result = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {}}]}
    error = _refused({**BASE, "messages": [{"role": "user", "content": [result]}]})
    assert error.param == "messages.0.content.0.content.0"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"frobnicate": 1}, "frobnicate"),
        ({"container": "c1"}, "container"),
        ({"mcp_servers": [{"type": "url"}]}, "mcp_servers"),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools.0.type"),
        ({"tools": [{"name": "t"}]}, "tools.0.input_schema"),
        ({"temperature": 1.5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"top_k": 2**31}, "top_k"),  # beyond its int32 tensor (was "messages cannot be rendered as a chat")
        ({"stop_sequences": [str(n) for n in range(17)]}, "stop_sequences"),
        ({"thinking": {"type": "sometimes"}}, "thinking"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "messages.0.content.0.text"),
        ({"system": [{"type": "text", "text": "x", "extra": 1}]}, "system.0.extra"),
        ({"metadata": {"user_id": "u", "session": "s"}}, "metadata.session"),
    ],
)
def test_refusals_name_the_field(fields: dict[str, Any], param: str) -> None:
    assert _refused({**BASE, **fields}).param == param


def test_unknown_fields_say_they_are_not_ignored() -> None:
    error = _refused({**BASE, "frobnicate": 1})
    assert error.code == "unknown_parameter"
    assert "ignores no field silently" in error.message


def test_output_format_under_either_name() -> None:
    schema = {"type": "object"}
    given = {"type": "json_schema", "schema": schema}
    assert parse_request({**BASE, "output_config": {"format": given}}).output_schema() == schema
    assert parse_request({**BASE, "output_format": given}).output_schema() == schema


def test_count_tokens_takes_no_max_tokens_or_sampling() -> None:
    assert parse_count_request({"model": "qwen3", "messages": BASE["messages"]}).model == "qwen3"
    with pytest.raises(APIError) as refused:
        parse_count_request({**BASE})
    assert refused.value.param == "max_tokens"


def test_every_ignored_field_has_a_reason() -> None:
    assert all(reason.strip() for reason in IGNORED_ON_PURPOSE.values())
    assert {"cache_control", "context_management", "output_config.effort", "metadata"} <= IGNORED_ON_PURPOSE.keys()


def test_the_body_must_be_an_object() -> None:
    assert _refused([BASE]).code == "invalid_value"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
FIELDS = st.sampled_from(["messages", "tools", "system", "tool_choice", "thinking", "max_tokens", "stop_sequences",
                          "output_config", "metadata", "content", "type"])  # fmt: skip


@given(st.dictionaries(FIELDS, JSON, max_size=4), st.sampled_from(["user", "assistant", "system"]))
def test_any_json_is_translated_or_refused_never_a_crash(fields: dict[str, Any], role: str) -> None:
    for body in ({**BASE, **fields}, {**BASE, "messages": [{"role": role, "content": [fields]}]}):
        refused: APIError | None = None
        try:
            request = parse_request(body)
            to_chat(request, ThinkingSigner(b"k"))  # and as the chat input it stands for
        except APIError as error:
            refused = error
        assert refused is None or refused.status == 400
