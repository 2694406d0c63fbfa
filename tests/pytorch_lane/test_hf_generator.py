"""The reference TrtllmService with the hf generator (the tiny random Qwen3): logprobs and their alternatives come
from the model's logits, as a real server's do; greedy answers are the same streamed and not."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.pytorch_lane.conftest import lane_proxy, reference_model

# The hf generator runs in this process here (in Triton's stub process on the engine lane), so its transformers'
# deprecation notice meets pytest's filterwarnings=error.
pytestmark = pytest.mark.filterwarnings("ignore:`past_key_values` is deprecated:FutureWarning")


@pytest.fixture(scope="module")
def hf_sdk(assets: Assets, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    model = reference_model(assets, tmp_path_factory.mktemp("hf"), backend="hf", model_dir=assets.tiny_model)
    with (
        TrtllmServiceThread(model) as server,
        lane_proxy(server, assets, reasoning_parser="none") as proxy,
        openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0) as sdk,
    ):
        yield sdk


def test_greedy_logprobs_and_alternatives_come_from_the_logits(hf_sdk: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Hello"}]
    answer = hf_sdk.chat.completions.create(
        model="qwen3",
        messages=messages,
        max_tokens=6,
        temperature=0,
        logprobs=True,
        top_logprobs=3,  # type: ignore[arg-type]
    )
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None
    assert len(content) == 6
    for item in content:
        assert item.logprob < 0
        assert len(item.top_logprobs) == 3
        assert [alt.logprob for alt in item.top_logprobs] == sorted(
            (alt.logprob for alt in item.top_logprobs), reverse=True
        )
        assert item.top_logprobs[0].token == item.token  # greedy: the chosen token is the most likely
        assert item.top_logprobs[0].logprob == pytest.approx(item.logprob, abs=1e-4)
    streamed = hf_sdk.chat.completions.create(
        model="qwen3",
        messages=messages,
        max_tokens=6,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == answer.choices[0].message.content
