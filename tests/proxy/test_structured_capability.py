"""Structured outputs outside ``make``'s virtualenv: xgrammar is a declared dependency, and the served model's
capability is checked before any guide is compiled (without guided decoding: the documented 400, never a 500)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces

REPO = Path(__file__).resolve().parents[2]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]


def test_xgrammar_is_a_declared_dependency() -> None:
    project = tomllib.loads((REPO / "python" / "pyproject.toml").read_text())["project"]
    assert any(requirement.startswith("xgrammar") for requirement in project["dependencies"])


@pytest.mark.parametrize(
    "fields",
    [
        {"response_format": {"type": "json_object"}},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
        {"tools": TOOLS, "tool_choice": "required"},
        {"guided_regex": "[0-9]+"},
    ],
)
def test_without_guided_decoding_the_400_comes_before_any_compiling(
    assets: Assets, tokenizer: Tokenizer, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any]
) -> None:
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # importing it now fails, as where it is not installed
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["{}"]))
    body = {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], **fields}
    with client_for(app_with(assets.tokenizer, upstream)) as client:
        response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert "needs guided decoding" in response.json()["error"]["message"]
    assert upstream.requests == []
