"""Reasoning and tool-call formats are chosen independently (as vLLM's --reasoning-parser and --tool-call-parser),
by name from their registries of classes; the fake upstream stands for Triton."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from trtllm_nix.errors import UserError
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.proxy.formats.hermes import Hermes
from trtllm_nix.proxy.formats.llama3_json import Llama3Json
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.registry import (
    REASONING_FORMATS,
    TOOL_CALL_FORMATS,
    Registry,
    reasoning_format,
    tool_call_format,
)
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat
from trtllm_nix.proxy.settings import ProxySettings, add_arguments, from_namespace
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_the_registries_hold_the_family_modules_classes() -> None:
    assert REASONING_FORMATS.names() == ("qwen3",)
    assert set(TOOL_CALL_FORMATS.names()) == {"hermes", "llama3_json"}
    assert isinstance(REASONING_FORMATS.create("qwen3"), Qwen3Reasoning)
    assert isinstance(TOOL_CALL_FORMATS.create("llama3_json"), Llama3Json)
    assert Hermes.name == "hermes"  # the name it was registered under
    assert TOOL_CALL_FORMATS.choices() == ("auto", "hermes", "llama3_json", "none")


def test_a_class_registers_by_its_decorator_alone() -> None:
    """What a family module does: its class is in the registry by being defined (formats/__init__ imports the
    module); a name is taken once, and never auto or none."""
    registry: Registry[ToolCallFormat] = Registry("--tool-call-parser")

    @registry.register("mine")
    class Mine(Hermes):
        pass

    assert registry.names() == ("mine",)
    assert isinstance(registry.create("mine"), Mine)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("mine")(Hermes)
    with pytest.raises(ValueError):
        registry.register("none")(Hermes)


def test_a_family_is_one_module_named_nowhere_else() -> None:
    """The second family proves the seam: no module of the product but its own names llama3_json (formats/__init__
    imports it, its decorator registers it, the flag's choices come from the registry)."""
    import trtllm_nix

    package = Path(trtllm_nix.__file__).parent
    naming = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "llama3_json" in path.read_text("utf-8") or "Llama3Json" in path.read_text("utf-8")
    }
    assert naming == {"proxy/formats/llama3_json.py"}


def test_the_thinking_switch_is_the_reasoning_formats_quirk() -> None:
    """The Responses and Messages APIs ask for thinking on or off; the served model's reasoning format says how its
    chat template is told (Qwen3: ``enable_thinking``), and a family without such a switch sends nothing. No module
    of the product outside formats/ names Qwen3's switch (settings.py: an example in the help of
    --default-chat-template-kwargs, the operator's own keyword arguments)."""
    import trtllm_nix

    assert Qwen3Reasoning().template_kwargs(False) == {"enable_thinking": False}
    assert Qwen3Reasoning().template_kwargs(True) == {"enable_thinking": True}
    assert Qwen3Reasoning().template_kwargs(None) == {}

    class Switchless(ReasoningFormat):
        OPEN, CLOSE = "<reasoning>", "</reasoning>"

    assert Switchless().template_kwargs(False) == {}
    package = Path(trtllm_nix.__file__).parent
    naming = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "enable_thinking" in path.read_text("utf-8")
    }
    assert naming == {"proxy/formats/qwen3.py", "proxy/settings.py"}


@pytest.mark.parametrize("reasoning_parser", ["qwen3", "none"])
def test_thinking_off_reaches_the_template_through_the_format(
    assets: Assets, tokenizer: Tokenizer, reasoning_parser: str
) -> None:
    """Thinking off on the Messages and Responses APIs: Qwen3's format closes the think block in the prompt; without
    a reasoning format nothing is sent, and the template thinks as it does by default."""
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["done"]))
    app = app_with(assets.tokenizer, upstream, reasoning_parser=reasoning_parser)
    with client_for(app) as client:
        asked = {"model": "qwen3", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/v1/messages", json={**asked, "thinking": {"type": "disabled"}}).status_code == 200
        effort = {"model": "qwen3", "input": "hi", "reasoning": {"effort": "none"}}
        assert client.post("/v1/responses", json=effort).status_code == 200
        assert client.post("/v1/messages", json=asked).status_code == 200  # no thinking field: the default
    closed = "<think>\n\n</think>\n\n"
    prompts = [tokenizer.decode(request.input_ids, skip_special_tokens=False) for request in upstream.requests]
    assert [prompt.endswith(closed) for prompt in prompts] == [reasoning_parser == "qwen3"] * 2 + [False]


def test_auto_reasoning_is_the_format_whose_markers_are_tokens(assets: Assets) -> None:
    """Qwen's tokenizer has <think> and </think> as tokens; a tokenizer without them (Llama's) gets no splitter."""
    files = ModelFiles.load(assets.tokenizer)
    assert isinstance(reasoning_format("auto", files), Qwen3Reasoning)
    assert reasoning_format("none", files) is None
    without = dataclasses.replace(files, tokenizer=Tokenizer(WordLevel({"hello": 0}, unk_token="hello")))
    assert without.token_id("<think>") is None
    assert reasoning_format("auto", without) is None
    assert isinstance(reasoning_format("qwen3", without), Qwen3Reasoning)  # named: used whatever the tokenizer
    assert isinstance(tool_call_format("auto"), Hermes)
    assert tool_call_format("none") is None


def test_tool_calls_parsed_with_reasoning_off(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["<think>plan</think>", CALL]))
    app = app_with(assets.tokenizer, upstream, reasoning_parser="none", tool_call_parser="hermes")
    with client_for(app) as client:
        message = client.post("/v1/chat/completions", json=_chat(tools=TOOLS)).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert message["content"] == "<think>plan</think>"
    assert "reasoning_content" not in message or message["reasoning_content"] is None


def test_no_tool_parser_refuses_tools_naming_the_flag(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["<think>plan</think>", "done"]))
    app = app_with(assets.tokenizer, upstream, tool_call_parser="none")
    with client_for(app) as client:
        refused = client.post("/v1/chat/completions", json=_chat(tools=TOOLS))
        plain = client.post("/v1/chat/completions", json=_chat()).json()["choices"][0]["message"]
    assert refused.status_code == 400
    assert "--tool-call-parser" in refused.json()["error"]["message"]
    assert refused.json()["error"]["param"] == "tools"
    assert plain["reasoning_content"] == "plan"  # the reasoning parser still runs
    assert plain["content"] == "done"


def test_an_unknown_tool_parser_is_one_line(assets: Assets) -> None:
    with pytest.raises(UserError, match=r"^--tool-call-parser must be auto, hermes, llama3_json or none$"):
        ProxySettings(tokenizer=assets.tokenizer, tool_call_parser="mistral")
    with pytest.raises(UserError, match=r"^--reasoning-parser must be auto, qwen3 or none$"):
        ProxySettings(tokenizer=assets.tokenizer, reasoning_parser="deepseek_r1")


def test_the_tool_parser_from_flag_and_environment(assets: Assets) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flagged = parser.parse_args(["--tokenizer", str(assets.tokenizer), "--tool-call-parser", "none"])
    assert from_namespace(flagged, {}).tool_call_parser == "none"
    plain = parser.parse_args(["--tokenizer", str(assets.tokenizer)])
    assert from_namespace(plain, {"TRTLLM_NIX_PROXY_TOOL_CALL_PARSER": "hermes"}).tool_call_parser == "hermes"
    assert from_namespace(plain, {}).tool_call_parser == "auto"
