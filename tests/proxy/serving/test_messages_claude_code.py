"""Requests that the real Claude Code 2.1.332 (``claude -p``) sent, replayed against the real proxy and Triton.

``tests/proxy/messages_api/claude_code/`` holds the two requests of one thinking -> Read -> tool result -> text loop
against the scripted demo (``make clients-anthropic`` runs Claude Code itself), with their shape kept: the
``?beta=true`` URL and beta headers, ``thinking: {"type": "adaptive", "display": "updates"}``, ``context_management``,
``output_config.effort``, ``metadata``, a system prompt of text blocks (the billing line first) with
``cache_control``, a ``role: "system"`` turn inside ``messages``, 12 tools with draft 2020-12 schemas (one with
``defer_loading``), ``max_tokens: 32000`` and ``stream: true``. Claude Code's long texts (its prompts, reminders and
tool descriptions) are left out of the recording, each replaced by a note of its length.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter
from trtllm_nix_testkit.background import ProxyThread

RECORDED = Path(__file__).resolve().parent.parent / "messages_api" / "claude_code"
EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def _recorded(name: str) -> dict[str, Any]:
    recording: dict[str, Any] = json.loads((RECORDED / f"{name}.json").read_text("utf-8"))
    return recording


def _post(proxy: ProxyThread, recording: dict[str, Any]) -> httpx.Response:
    headers = {**recording["headers"], "x-api-key": "unused"}
    with httpx.Client(timeout=120) as client:
        return client.post(proxy.base_url + recording["path"], json=recording["body"], headers=headers)


def _events(answer: httpx.Response) -> list[Any]:
    """Every event, parsed with the Anthropic SDK's own types (``ping`` is not one of them: the SDK skips it)."""
    assert answer.status_code == 200, answer.text
    data = [json.loads(line.removeprefix("data: ")) for line in answer.text.splitlines() if line.startswith("data: ")]
    assert data[1] == {"type": "ping"}
    return [EVENT.validate_python(event) for event in data if event["type"] != "ping"]


def _blocks(events: list[Any]) -> list[dict[str, Any]]:
    """The content blocks the events add up to (as Claude Code assembles them)."""
    blocks: list[dict[str, Any]] = []
    for event in events:
        if event.type == "content_block_start":
            blocks.append(event.content_block.model_dump())
            blocks[-1]["partial_json"] = ""
        elif event.type == "content_block_delta":
            delta, block = event.delta, blocks[event.index]
            if delta.type == "thinking_delta":
                block["thinking"] += delta.thinking
            elif delta.type == "signature_delta":
                block["signature"] = delta.signature
            elif delta.type == "text_delta":
                block["text"] += delta.text
            elif delta.type == "input_json_delta":
                block["partial_json"] += delta.partial_json
    return blocks


def test_the_first_turn_thinks_and_calls_read(scripted_proxy: ProxyThread) -> None:
    events = _events(_post(scripted_proxy, _recorded("first-turn")))
    assert events[0].type == "message_start"
    assert events[0].message.usage.input_tokens > 3000  # 12 tools and the prompts (11,663 with their full texts)
    thinking, call = _blocks(events)
    assert thinking["type"] == "thinking"
    assert thinking["thinking"] == "I should read the file."
    assert thinking["signature"]
    assert call["type"] == "tool_use"
    assert call["name"] == "Read"
    assert json.loads(call["partial_json"]) == {"file_path": "/tmp/work-folder/work/hello.txt"}
    assert [event.delta.stop_reason for event in events if event.type == "message_delta"] == ["tool_use"]


def test_the_read_result_is_answered_once_the_thinking_is_this_servers(scripted_proxy: ProxyThread) -> None:
    thinking, _ = _blocks(_events(_post(scripted_proxy, _recorded("first-turn"))))
    recording = _recorded("after-read")
    recorded_block = recording["body"]["messages"][2]["content"][0]
    assert recorded_block["type"] == "thinking"
    refused = _post(scripted_proxy, recording)  # signed by the demo Claude Code talked to, not by this proxy
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert "invalid signature in thinking block" in refused.json()["error"]["message"]
    ours = copy.deepcopy(recording)
    ours["body"]["messages"][2]["content"][0]["signature"] = thinking["signature"]
    events = _events(_post(scripted_proxy, ours))
    assert [block["text"] for block in _blocks(events)] == ["The file says hello."]
    assert [event.delta.stop_reason for event in events if event.type == "message_delta"] == ["end_turn"]
