"""The reference backend's in-flight loop serves every other request when one request's response sender breaks.

The loop is one thread for all requests: an exception that escapes it (a sender that raises on ``send``, then again
on the ``fail`` meant to report it) would leave every later request of that tritonserver waiting forever. The sinks
here stand in for Triton's response sender, which raises (``PythonBackendException``) when it cannot send.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from trtllm_nix_testkit.reference.contract import GenerationRequest, Sampling
from trtllm_nix_testkit.reference.engine import InflightEngine
from trtllm_nix_testkit.reference.generators import Step
from trtllm_nix_testkit.reference.stats import StatsFile, read_stats


class CountingGenerator:
    """Emits 1, 2, 3, ... and fails to start a request whose first prompt id is 0."""

    def start(self, request: GenerationRequest) -> object:
        if request.input_ids[0] == 0:
            raise RuntimeError("cannot start")
        return [0]

    def delay_s(self, prompt_ids: tuple[int, ...]) -> float | None:
        return None

    def step(self, state: object) -> Step:
        assert isinstance(state, list)
        state[0] += 1
        return Step(state[0], 0.0)


@dataclass
class Sink:
    broken: bool = False
    tokens: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)

    def is_cancelled(self) -> bool:
        return False

    def send(
        self, tokens: list[int], logprobs: list[float], sequence_length: int, final: bool, extras: Any = None
    ) -> None:
        self._check()
        self.tokens += tokens
        if final:
            self.ended.set()

    def finish(self) -> None:
        self._check()
        self.ended.set()

    def fail(self, message: str) -> None:
        self._check()
        self.failures.append(message)
        self.ended.set()

    def _check(self) -> None:
        if self.broken:
            raise RuntimeError("Unable to send response. Response sender has been closed.")


def _request(first_id: int = 1, streaming: bool = True) -> GenerationRequest:
    return GenerationRequest(
        input_ids=(first_id, 5),
        max_new_tokens=3,
        end_id=None,
        pad_id=None,
        streaming=streaming,
        exclude_input_in_output=True,
        return_log_probs=False,
        stop_sequences=(),
        sampling=Sampling(),
    )


@pytest.mark.parametrize("first_id", [1, 0], ids=["while generating", "while starting"])
@pytest.mark.parametrize("streaming", [True, False])
def test_a_broken_sender_loses_only_its_own_request(
    tmp_path: Path, first_id: int, streaming: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    stats = tmp_path / "stats.json"
    engine = InflightEngine(CountingGenerator(), StatsFile(stats))
    try:
        engine.submit(_request(first_id, streaming), Sink(broken=True))
        healthy = Sink()
        engine.submit(_request(streaming=streaming), healthy)
        assert healthy.ended.wait(30), "the loop died with the broken request"
        assert healthy.tokens == [1, 2, 3]
    finally:
        engine.shutdown()
    counts = read_stats(stats)
    assert (counts["started"], counts["finished"] + counts["failed"], counts["active"]) == (2, 2, 0)
    assert "Response sender has been closed" in capfd.readouterr().err


def test_a_request_that_cannot_start_fails_alone(tmp_path: Path) -> None:
    engine = InflightEngine(CountingGenerator(), StatsFile(None))
    try:
        refused, healthy = Sink(), Sink()
        engine.submit(_request(0), refused)
        engine.submit(_request(), healthy)
        assert refused.ended.wait(30)
        assert healthy.ended.wait(30)
    finally:
        engine.shutdown()
    assert refused.failures == ["could not start generation: cannot start"]
    assert healthy.tokens == [1, 2, 3]


def test_a_stats_file_that_cannot_be_written_does_not_stop_the_engine(tmp_path: Path) -> None:
    """The counters' file is a mirror for tests: failing to write it (its folder gone, a full disk) must not kill
    the engine thread, after which the tritonserver would never answer again."""
    engine = InflightEngine(CountingGenerator(), StatsFile(tmp_path / "gone" / "stats.json"))
    try:
        healthy = Sink()
        engine.submit(_request(), healthy)
        assert healthy.ended.wait(30), "the engine thread died on the stats write"
        assert healthy.tokens == [1, 2, 3]
    finally:
        engine.shutdown()
