"""``GET /v1/loads``: the proxy's load in the shape SMG's load monitor reads, so a gateway in front of several proxies
can route by load (docs/gateway.md)."""

from __future__ import annotations

from tokenizers import Tokenizer
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces

SMG_QUERY = "/v1/loads?include=core,disagg,queues,memory"  # what SMG 1.13's load monitor sends


def test_the_load_is_the_fill_of_the_in_flight_limit(assets: Assets, tokenizer: Tokenizer) -> None:
    app = app_with(assets.tokenizer, FakeUpstream(lambda _: pieces(tokenizer, ["ok"])), max_in_flight=4)
    with client_for(app) as client:
        idle = client.get(SMG_QUERY)
        ticket = app.state.proxy.lifecycle.admission.admit(3)  # one request of n=3 running
        try:
            busy = client.get(SMG_QUERY).json()
        finally:
            ticket.release()
        metrics = client.get("/metrics").text
    assert idle.status_code == 200, idle.text
    assert idle.json()["dp_rank_count"] == 1
    assert idle.json()["loads"][0]["token_usage"] == 0.0
    rank = busy["loads"][0]
    assert (rank["num_running_reqs"], rank["num_waiting_reqs"], rank["max_running_requests"]) == (1, 0, 4)
    assert rank["token_usage"] == 0.75  # 3 generations of 4: at 1.0 the proxy answers 429
    assert busy["timestamp"].endswith("Z")
    assert 'endpoint="/v1/loads",status="200"' in metrics


def test_loads_need_the_key_and_known_sections(assets: Assets, tokenizer: Tokenizer) -> None:
    app = app_with(assets.tokenizer, FakeUpstream(lambda _: pieces(tokenizer, ["ok"])), api_key="sk-shared")
    with client_for(app) as client:
        assert client.get(SMG_QUERY).status_code == 401
        headers = {"Authorization": "Bearer sk-shared"}
        assert client.get(SMG_QUERY, headers=headers).status_code == 200
        unknown = client.get("/v1/loads?include=core,gpu", headers=headers)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "include"
    assert "'gpu'" in unknown.json()["error"]["message"]
