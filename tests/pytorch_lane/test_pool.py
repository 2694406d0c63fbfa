"""Several TrtllmService servers: behind one model (one that goes away is failed over before the first token, as on
the engine lane), or one per served model (``--served-model NAME:...,upstream=grpc-trtllm://...``)."""

from __future__ import annotations

import httpx
import pytest
from trtllm_nix.errors import UserError
from trtllm_nix.llm.upstream_address import UpstreamAddress
from trtllm_nix.proxy.settings import parse_model_spec
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.proxy.sse import chat
from tests.pytorch_lane.conftest import lane_proxy, reference_model


def test_a_server_that_went_away_is_failed_over(assets: Assets, tmp_path_factory: pytest.TempPathFactory) -> None:
    first = TrtllmServiceThread(reference_model(assets, tmp_path_factory.mktemp("first"))).start()
    with TrtllmServiceThread(reference_model(assets, tmp_path_factory.mktemp("second"))) as second:
        try:
            address = UpstreamAddress((first.target, second.target))
            with lane_proxy(first, assets, upstream=address) as proxy:
                url = proxy.base_url + "/v1/chat/completions"
                assert httpx.post(url, json=chat("one"), timeout=30).json()["choices"][0]["message"]["content"] == "one"
                first.stop()
                before = second.stats.counters.finished
                answer = httpx.post(url, json=chat("two"), timeout=30)
                assert answer.status_code == 200
                assert answer.json()["choices"][0]["message"]["content"] == "two"
                assert second.stats.counters.finished == before + 1
        finally:
            first.stop()


def test_a_second_model_on_its_own_trtllm_service(
    assets: Assets, tmp_path_factory: pytest.TempPathFactory, trtllm_service: TrtllmServiceThread
) -> None:
    spec = f"second:tokenizer={assets.tokenizer},upstream=grpc-trtllm://{trtllm_service.target}"
    model = parse_model_spec(spec)
    assert model.upstream == UpstreamAddress((trtllm_service.target,))
    main = TrtllmServiceThread(reference_model(assets, tmp_path_factory.mktemp("main")))
    with main, lane_proxy(main, assets, extra_models=(model,)) as proxy:
        cards = httpx.get(proxy.base_url + "/v1/models", timeout=30).json()["data"]
        assert [(card["id"], card["max_model_len"]) for card in cards] == [("qwen3", 16384), ("second", 16384)]
        before = trtllm_service.stats.counters.finished
        body = {**chat("from the second"), "model": "second"}
        answer = httpx.post(proxy.base_url + "/v1/chat/completions", json=body, timeout=30).json()
        assert answer["choices"][0]["message"]["content"] == "from the second"
        assert trtllm_service.stats.counters.finished == before + 1


def test_served_model_upstream_replaces_the_triton_keys(assets: Assets) -> None:
    with pytest.raises(UserError, match="upstream= replaces triton"):
        parse_model_spec(f"m:tokenizer={assets.tokenizer},upstream=grpc-trtllm://h:1,triton=h:2")
    two = parse_model_spec(f"m:tokenizer={assets.tokenizer},upstream=grpc-trtllm://a:1+b:2?guided_decoding=xgrammar")
    assert two.upstream == UpstreamAddress(("a:1", "b:2"), guided_decoding=True)
