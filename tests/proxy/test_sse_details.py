"""The SSE stream as a strict client sees it: headers, chunk order, usage, [DONE], keep-alive comments."""

from __future__ import annotations

from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread

from tests.helpers import RunningTriton
from tests.proxy.conftest import start_proxy
from tests.proxy.sse import chat, post_sse


def test_stream_headers_and_chunk_order(scripted_proxy: ProxyThread) -> None:
    sse = post_sse(scripted_proxy.base_url, "/v1/chat/completions", chat("Hi there", stream=True))
    assert sse.status == 200
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.headers["cache-control"] == "no-cache"
    assert sse.headers["x-accel-buffering"] == "no"
    assert sse.data[-1] == "[DONE]"
    events = sse.events
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"] for e in events)
    assert [e["choices"][0]["finish_reason"] for e in events] == [None] * (len(events) - 1) + ["stop"]
    assert events[-1]["choices"][0]["delta"] == {}
    assert "usage" not in events[-1]
    assert sse.text() == "Hi there"


def test_usage_chunk_only_when_asked(scripted_proxy: ProxyThread) -> None:
    body = chat("Hi there", stream=True, stream_options={"include_usage": True})
    events = post_sse(scripted_proxy.base_url, "/v1/chat/completions", body).events
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == 2
    assert events[-1]["usage"]["total_tokens"] == events[-1]["usage"]["prompt_tokens"] + 2


def test_stream_options_without_stream_is_accepted(scripted_proxy: ProxyThread) -> None:
    import httpx

    body = chat("ok", stream_options={"include_usage": True})
    response = httpx.post(scripted_proxy.base_url + "/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "ok"


def test_keepalive_comments_during_silence(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = start_proxy(scripted_triton, assets, keepalive_seconds=0.05)
    try:
        sse = post_sse(proxy.base_url, "/v1/chat/completions", chat("slow words here #delay_ms:250", stream=True))
    finally:
        proxy.stop()
    assert sse.text() == "slow words here #delay_ms:250"
    assert ": keep-alive" in sse.comments
    first_comment = sse.lines.index(": keep-alive")
    first_text = next(i for i, line in enumerate(sse.lines) if '"content":"slow' in line)
    assert first_comment < first_text, "keep-alives run from the start, before the first token"
    assert sse.data[-1] == "[DONE]"
