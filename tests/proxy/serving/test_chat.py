"""Chat completions through the app with a fake upstream: logprobs, reasoning, templates, ranges, limits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces

HELD_BACK = ["Hello", "\n\n", "world", " ", "again", "\n"]  # whitespace the parser holds in case a tag follows
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def _chat(content: str | None = "hi", **fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": content}], **fields}


def _sse(text: str) -> list[dict[str, Any]]:
    data = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


def _streamed_logprobs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for ev in events for c in ev.get("choices", []) for e in (c.get("logprobs") or {}).get("content", [])]


@pytest.mark.parametrize(
    "texts", [HELD_BACK, ["Let me ", "call.", "\n", *[CALL[i : i + 4] for i in range(0, len(CALL), 4)]]]
)
def test_streamed_logprobs_lose_no_token(assets: Assets, tokenizer: Tokenizer, texts: list[str]) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, texts))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        body = _chat(logprobs=True, tools=TOOLS)
        whole = client.post("/v1/chat/completions", json=body).json()["choices"][0]["logprobs"]["content"]
        streamed = _streamed_logprobs(_sse(client.post("/v1/chat/completions", json={**body, "stream": True}).text))
    expected = sum(len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts)
    assert len(whole) == expected
    assert [e["token"] for e in streamed] == [e["token"] for e in whole]


def test_think_in_the_users_text_does_not_make_the_answer_reasoning(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["It opens ", "a reasoning block."]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        body = _chat("what does <think> mean?")
        message = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert message["content"] == "It opens a reasoning block."
    assert "reasoning_content" not in message


def _tokenizer_copy(assets: Assets, tmp_path: Path, **config: Any) -> Path:
    folder = tmp_path / "tokenizer"
    shutil.copytree(assets.tokenizer, folder)
    path = folder / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return folder


def test_a_template_type_error_is_a_400(assets: Assets, tokenizer: Tokenizer, tmp_path: Path) -> None:
    template = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] }}{% endfor %}"
    folder = _tokenizer_copy(assets, tmp_path, chat_template=template)  # concatenates content, as HF templates do
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["x"]))
    with client_for(app_with(folder, upstream)) as client:
        response = client.post("/v1/chat/completions", json=_chat(None))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "messages"
    assert upstream.requests == []


def test_a_placeholder_model_max_length_is_not_the_context(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    folder = _tokenizer_copy(assets, tmp_path, model_max_length=int(1e30))  # transformers' "no limit"
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["fine"]))
    with client_for(app_with(folder, upstream)) as client:
        response = client.post("/v1/chat/completions", json=_chat())
        card = client.get("/v1/models").json()["data"][0]
    assert response.status_code == 200, response.text
    assert card["max_model_len"] == 4096
    assert upstream.requests[0].max_new_tokens < 4096


@pytest.mark.parametrize(
    ("field", "value"), [("top_k", 10**12), ("max_tokens", 2**31), ("max_completion_tokens", 2**40), ("seed", 2**64)]
)
def test_out_of_range_integers_are_refused_not_wrapped(
    assets: Assets, tokenizer: Tokenizer, field: str, value: int
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["x"]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post("/v1/chat/completions", json=_chat(**{field: value}))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == field
    assert upstream.requests == []


def test_top_k_beyond_the_vocabulary_is_refused(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["x"]))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post("/v1/chat/completions", json=_chat(top_k=10**9))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "top_k"


def test_a_prompt_far_beyond_the_context_is_refused_before_tokenizing(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["x"]))
    with client_for(app_with(assets.tokenizer, upstream, max_model_len=1024)) as client:
        response = client.post("/v1/chat/completions", json=_chat("a" * (16 * 1024 + 1)))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


@pytest.mark.parametrize("tail", ['<tool_call>\n{"name": "get_weather", "argumen', "<"])
@pytest.mark.parametrize("stream", [False, True])
def test_calls_cut_by_the_token_limit_finish_with_length(
    assets: Assets, tokenizer: Tokenizer, stream: bool, tail: str
) -> None:
    """A weak model repeating a forced call until max_tokens: the answer says length (it was cut), and the cut
    call is not content, even cut after its first character (SmolLM2 on the hf demo: '<')."""
    texts = [CALL, "\n", CALL, "\n", tail]
    used = sum(len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts)
    upstream = FakeUpstream(lambda _: pieces(tokenizer, texts))
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post("/v1/chat/completions", json=_chat(tools=TOOLS, max_tokens=used, stream=stream))
    if stream:
        events = _sse(response.text)
        finish = [c["finish_reason"] for e in events for c in e.get("choices", []) if c.get("finish_reason")]
        content = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
        calls = [t for e in events for c in e.get("choices", []) for t in c["delta"].get("tool_calls", []) if "id" in t]
    else:
        choice = response.json()["choices"][0]
        finish, content, calls = (
            [choice["finish_reason"]],
            choice["message"]["content"] or "",
            choice["message"].get("tool_calls", []),
        )
    assert finish == ["length"]
    assert content == ""
    assert len(calls) == 2
