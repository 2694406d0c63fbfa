"""Several TrtllmService servers behind one model: a server that goes away is failed over before the first token,
as on the engine lane."""

from __future__ import annotations

import httpx
import pytest
from trtllm_nix.assets.build import Assets
from trtllm_nix.llm.upstream_address import UpstreamAddress
from trtllm_nix.reference.trtllm_server import TrtllmServiceThread

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
