"""Requests shaped like OpenWebUI's (extras, tasks, tools, stream options) all work, and reasoning never leaks
into the content that OpenWebUI's tasks read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from trtllm_nix_testkit.background import ProxyThread

from tests.proxy.sse import post_sse

CORPUS = json.loads((Path(__file__).parent / "openwebui_corpus.json").read_text())


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_openwebui_request(scripted_proxy: ProxyThread, case: dict[str, Any]) -> None:
    body = case["body"]
    if body.get("stream"):
        sse = post_sse(scripted_proxy.base_url, "/v1/chat/completions", body)
        assert sse.status == 200, sse.lines
        assert sse.data[-1] == "[DONE]"
        content, reasoning = sse.text("content"), sse.text("reasoning_content") or None
        calls: dict[int, dict[str, str]] = {}
        for event in sse.events:
            for choice in event.get("choices", []):
                for call in choice["delta"].get("tool_calls", []):
                    entry = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                    entry["name"] += call.get("function", {}).get("name") or ""
                    entry["arguments"] += call.get("function", {}).get("arguments") or ""
        tool_calls = [[calls[i]["name"], json.loads(calls[i]["arguments"])] for i in sorted(calls)]
        if body.get("stream_options", {}).get("include_usage"):
            assert sse.events[-1]["usage"]["total_tokens"] > 0
    else:
        response = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        message = response.json()["choices"][0]["message"]
        content, reasoning = message["content"], message.get("reasoning_content")
        tool_calls = [
            [c["function"]["name"], json.loads(c["function"]["arguments"])] for c in message.get("tool_calls", [])
        ]
    assert content == case["content"]
    assert reasoning == case["reasoning"]
    assert tool_calls == case.get("tool_calls", [])
    assert "<think>" not in content
    assert "</think>" not in content
