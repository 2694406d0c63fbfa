"""Anthropic's error envelope: the types its SDKs map statuses to, as a body and as a stream event."""

from __future__ import annotations

import json

import pytest
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.messages_api.errors import error_body, error_event, error_response, is_messages_path


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (422, "invalid_request_error"),
    ],
)
def test_statuses_map_to_anthropics_error_types(status: int, kind: str) -> None:
    assert error_body(APIError(status, "why")) == {"type": "error", "error": {"type": kind, "message": "why"}}


def test_the_response_keeps_status_headers_and_request_id() -> None:
    response = error_response(APIError(429, "busy", headers={"Retry-After": "1"}), "rid-1")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["request-id"] == "rid-1"
    assert json.loads(bytes(response.body))["error"]["type"] == "rate_limit_error"


def test_the_stream_event() -> None:
    event = error_event(APIError(502, "Triton failed"))
    name, data = event.decode().strip().split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {
        "type": "error",
        "error": {"type": "api_error", "message": "Triton failed"},
    }


def test_which_paths_are_the_messages_api() -> None:
    assert is_messages_path("/v1/messages")
    assert is_messages_path("/v1/messages/count_tokens")
    assert not is_messages_path("/v1/messagesx")
    assert not is_messages_path("/v1/chat/completions")
