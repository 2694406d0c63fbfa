"""The generation backend interface: ``generate(request, stops)`` yields the events of ``llm.generation`` over any
token source, and each lane declares what it can do (``llm.lanes``)."""

from __future__ import annotations

import asyncio

from tokenizers import Tokenizer
from trtllm_nix.llm.backend import Capabilities, GenerationBackend
from trtllm_nix.llm.events import Delta, Finish, GenerationEvent
from trtllm_nix.llm.generation import TokenStreamBackend
from trtllm_nix.llm.lanes import engine_lane, pytorch_lane
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import request
from tests.proxy.fake_upstream import FakeUpstream, pieces


def test_a_token_stream_backend_yields_deltas_then_one_finish(assets: Assets, tokenizer: Tokenizer) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["one", " two", " three"]))
    backend: GenerationBackend = TokenStreamBackend(
        upstream, ModelFiles.load(assets.tokenizer), engine_lane(False, False, False)
    )

    async def collect() -> list[GenerationEvent]:
        return [event async for event in backend.generate(request([1, 2], 50), ["three"])]

    events = asyncio.run(collect())
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "one two "
    assert events[-1] == Finish("stop", 2, 3, "three")
    assert upstream.endings == ["cancelled"], "a stop string closes the stream: the generation is cancelled"


def test_a_source_without_health_checks_is_always_ready(assets: Assets) -> None:
    backend = TokenStreamBackend(FakeUpstream(lambda _: []), ModelFiles.load(assets.tokenizer), Capabilities())
    assert backend.any_ready()
    assert asyncio.run(backend.ready())
    assert backend.status() == []
    assert backend.url == "fake://upstream"


def test_the_engine_lane_declares_what_its_engine_gathers() -> None:
    plain = engine_lane(context_logits=False, generation_logits=False, guided=False)
    assert (plain.prompt_scoring, plain.top_logprobs, plain.guided) == (False, False, frozenset())
    full = engine_lane(context_logits=True, generation_logits=True, guided=True)
    assert (full.prompt_scoring, full.top_logprobs) == (True, True)
    assert full.guided == {"json", "json_schema", "regex", "ebnf_grammar"}
    assert "gather_context_logits" in plain.why_not("prompt_scoring", "m")
    assert "'m'" in plain.why_not("prompt_scoring", "m"), "the served model is named"


def test_the_pytorch_lane_gives_alternatives_but_scores_no_prompt() -> None:
    lane = pytorch_lane(guided=False)
    assert (lane.top_logprobs, lane.logprobs, lane.token_ids) == (True, True, True)
    assert not lane.prompt_scoring
    assert "TrtllmService" in lane.why_not("prompt_scoring", "m")
    assert "TrtllmService" in lane.why_not("min_p", "m")
    assert pytorch_lane(guided=True).guided == {"json", "json_schema", "regex", "ebnf_grammar"}
