"""The guide compiler's own threads, deadline and cache: a slow compile is a 400 naming the limit, a compile that
could not start in time is a 503, a guide seen before is not compiled again (refused ones included), and other
work goes on meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy import guide_compiler
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.formats.qwen3 import Qwen3Reasoning
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat
from trtllm_nix.proxy.guide_compiler import GuideCompiler
from trtllm_nix.proxy.structured import StructuredOutputError

JSON_OBJECT = {"response_format": {"type": "json_object"}}
REGEX = {"guided_regex": "[a-z]+"}
QWEN3 = Qwen3Reasoning()


class _Compiles:
    """Stands for ``guided_decoding_for``: counts calls; holds each until released when ``hold`` is set."""

    def __init__(self) -> None:
        self.calls: list[Mapping[str, Any]] = []
        self.threads: list[str] = []
        self.hold = False
        self.release = threading.Event()

    def __call__(
        self,
        body: Mapping[str, Any],
        reasoning: ReasoningFormat | None = None,
        format_param: str = "response_format",
        tool_calls: ToolCallFormat | None = None,
        schema_param: str = "parameters",
    ) -> GuidedDecoding | None:
        self.calls.append(body)
        self.threads.append(threading.current_thread().name)
        if self.hold:
            self.release.wait(timeout=30)
        if "guided_regex" in body and body["guided_regex"] == "(":
            raise StructuredOutputError("the grammar compiler refuses this regex", "guided_regex")
        return GuidedDecoding("json", "")


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Compiles]:
    fake = _Compiles()
    monkeypatch.setattr(guide_compiler, "guided_decoding_for", fake)
    yield fake
    fake.release.set()


def test_a_guide_seen_before_is_not_compiled_again(compiles: _Compiles) -> None:
    async def run() -> None:
        compiler = GuideCompiler(threads=1, seconds=30)
        try:
            for _ in range(3):
                assert await compiler.guide_for(JSON_OBJECT, reasoning=QWEN3) == GuidedDecoding("json", "")
                with pytest.raises(StructuredOutputError):
                    await compiler.guide_for({"guided_regex": "("}, reasoning=QWEN3)
            await compiler.guide_for(JSON_OBJECT, reasoning=None)  # another guide: compiled
        finally:
            compiler.close()

    asyncio.run(run())
    assert len(compiles.calls) == 3


def test_a_compile_past_the_deadline_is_a_400_naming_the_limit_and_stays_refused(compiles: _Compiles) -> None:
    compiles.hold = True

    async def run() -> tuple[StructuredOutputError, StructuredOutputError]:
        compiler = GuideCompiler(threads=1, seconds=0.2)
        try:
            with pytest.raises(StructuredOutputError) as first:
                await compiler.guide_for(REGEX, reasoning=None)
            compiles.release.set()
            with pytest.raises(StructuredOutputError) as again:
                await compiler.guide_for(REGEX, reasoning=None)
            return first.value, again.value
        finally:
            compiler.close()

    first, again = asyncio.run(run())
    assert first.param == "guided_regex"
    assert "longer than 0.2 s" in str(first)
    assert str(again) == str(first)
    assert len(compiles.calls) == 1


def test_a_compile_that_cannot_start_in_time_is_a_503(compiles: _Compiles) -> None:
    compiles.hold = True

    async def run() -> list[BaseException | GuidedDecoding | None]:
        compiler = GuideCompiler(threads=1, seconds=0.3)
        try:
            return await asyncio.gather(
                compiler.guide_for(REGEX, reasoning=None),
                compiler.guide_for(JSON_OBJECT, reasoning=None),
                return_exceptions=True,
            )
        finally:
            compiles.release.set()
            compiler.close()

    slow, queued = asyncio.run(run())
    assert isinstance(slow, StructuredOutputError)
    assert isinstance(queued, APIError)
    assert queued.status == 503
    assert queued.headers.get("Retry-After") == "1"


def test_other_work_goes_on_while_a_compile_runs(compiles: _Compiles) -> None:
    """The compile holds one of its own threads, not the loop nor asyncio's default executor (where templates are
    rendered and prompts tokenized)."""
    compiles.hold = True

    async def run() -> int:
        compiler = GuideCompiler(threads=1, seconds=30)
        try:
            compile_task = asyncio.ensure_future(compiler.guide_for(REGEX, reasoning=None))
            other = await asyncio.to_thread(lambda: 42)
            assert not compile_task.done()
            compiles.release.set()
            await compile_task
            return other
        finally:
            compiler.close()

    assert asyncio.run(run()) == 42


def test_requests_without_a_guide_skip_the_compiler(compiles: _Compiles) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]

    async def run() -> None:
        compiler = GuideCompiler(threads=1, seconds=30)
        try:
            await compiler.guide_for({}, reasoning=None)
            await compiler.guide_for({"tools": tools, "tool_choice": "auto"}, reasoning=None)
            await compiler.guide_for(JSON_OBJECT, reasoning=None)
        finally:
            compiler.close()

    asyncio.run(run())
    assert len(compiles.calls) == 3
    inline, compiled = compiles.threads[:2], compiles.threads[2]
    assert not any(name.startswith("guide-compile") for name in inline)  # plain checks, at once
    assert compiled.startswith("guide-compile")
