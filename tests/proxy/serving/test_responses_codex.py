"""Requests that the real Codex CLI 0.171.0 sent, replayed byte for byte against the real proxy and Triton.

``tests/proxy/responses_api/codex/`` holds three bodies recorded between ``codex exec`` and the scripted demo
(``make clients-codex`` runs Codex itself): a first turn, the turn after Codex ran the requested command, and a
resumed session that replays a reasoning item. Each carries what Codex always sends: about 8,700 prompt tokens of
instructions, function tools, a ``namespace`` of function tools (its sub-agents), a hosted ``web_search`` tool,
``client_metadata``, ``include: ["reasoning.encrypted_content"]``, ``store: false`` and ``stream: true``. Before
namespaces were offered and hosted tools skipped, every one of them was a 400.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter
from trtllm_nix_testkit.background import ProxyThread

RECORDED = Path(__file__).resolve().parent.parent / "responses_api" / "codex"
EVENT = TypeAdapter(ResponseStreamEvent)


def _recorded(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((RECORDED / f"codex-0.171.0-{name}.json").read_text("utf-8"))
    return body


def _stream(proxy: ProxyThread, body: dict[str, Any]) -> tuple[httpx.Headers, Response]:
    """POST as Codex does, parse every event with the SDK's types, and return the final response."""
    with httpx.Client(timeout=120) as client, client.stream("POST", proxy.base_url + "/v1/responses", json=body) as r:
        assert r.status_code == 200, r.read().decode()
        events = [
            EVENT.validate_json(line.removeprefix("data: ")) for line in r.iter_lines() if line.startswith("data: ")
        ]
        headers = r.headers
    assert [event.sequence_number for event in events] == list(range(len(events)))
    final = events[-1]
    assert final.type == "response.completed"
    return headers, final.response


def test_the_first_turn_calls_the_command_tool(scripted_proxy: ProxyThread) -> None:
    headers, response = _stream(scripted_proxy, _recorded("turn1-tool-call"))
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(call.name, json.loads(call.arguments)) for call in calls] == [
        ("exec_command", {"cmd": "echo '#rep''ly: The command printed hi.'"})
    ]
    assert calls[0].namespace is None
    assert headers["x-trtllm-nix-skipped-tools"] == "web_search"
    echoed = [tool.type for tool in response.tools]
    assert "namespace" in echoed
    assert echoed[-1] == "web_search"


def test_the_command_output_is_answered(scripted_proxy: ProxyThread) -> None:
    _, response = _stream(scripted_proxy, _recorded("turn2-tool-output"))
    assert response.output_text.strip() == "The command printed hi."
    assert response.usage is not None
    assert response.usage.input_tokens > 8000


def test_a_resumed_session_replays_its_reasoning_item(scripted_proxy: ProxyThread) -> None:
    body = _recorded("resume-with-reasoning")
    assert any(item.get("type") == "reasoning" for item in body["input"])
    _, response = _stream(scripted_proxy, body)
    assert response.output_text == "Second answer."


@pytest.mark.parametrize("tool", [{"type": "custom", "name": "apply_patch"}, {"type": "local_shell"}])
def test_a_tool_whose_call_is_not_a_function_call_is_still_refused(
    scripted_proxy: ProxyThread, tool: dict[str, Any]
) -> None:
    body = {**_recorded("turn1-tool-call"), "stream": False}
    body["tools"] = [*body["tools"], tool]
    answer = httpx.post(scripted_proxy.base_url + "/v1/responses", json=body, timeout=60)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == f"tools[{len(body['tools']) - 1}].type"
    assert "function_call items" in error["message"]
