"""Where the PyTorch lane's limits come from (GetModelInfo), and how its address is given and refused."""

from __future__ import annotations

import argparse

import httpx
import pytest
from trtllm_nix.errors import UserError
from trtllm_nix.llm.upstream_address import UpstreamAddress, parse_upstream
from trtllm_nix.proxy.settings import add_arguments, from_namespace
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread

from tests.proxy.sse import chat
from tests.pytorch_lane.conftest import CONTEXT, lane_proxy


def test_the_context_is_the_servers_max_seq_len(pytorch_proxy: ProxyThread) -> None:
    card = httpx.get(pytorch_proxy.base_url + "/v1/models", timeout=30).json()["data"][0]
    assert card["max_model_len"] == CONTEXT
    assert card["capabilities"]["guided_decoding"] is True
    too_long = httpx.post(
        pytorch_proxy.base_url + "/v1/chat/completions", json=chat("x", max_tokens=CONTEXT), timeout=30
    )
    assert too_long.status_code == 400
    assert too_long.json()["error"]["param"] == "max_tokens"


def test_max_model_len_above_the_servers_is_refused(trtllm_service: TrtllmServiceThread, assets: Assets) -> None:
    with pytest.raises(UserError, match="more than the served engine's max_seq_len 16384"):
        lane_proxy(trtllm_service, assets, max_model_len=CONTEXT + 1)


def test_a_server_that_does_not_answer_is_named_at_start(assets: Assets) -> None:
    dead = free_ports(1)[0]

    class Dead:
        target = f"127.0.0.1:{dead}"

    with pytest.raises(UserError, match=f"127.0.0.1:{dead} did not answer GetModelInfo"):
        lane_proxy(Dead(), assets, upstream_wait=0.5)  # type: ignore[arg-type]


def test_structured_outputs_need_the_servers_guided_decoding(
    trtllm_service: TrtllmServiceThread, assets: Assets
) -> None:
    with lane_proxy(trtllm_service, assets, guided=False) as proxy:
        body = chat("x", response_format={"type": "json_object"})
        answer = httpx.post(proxy.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "response_format"
    # what fixes it on this lane: the server's backend and the address's flag, not an engine lane's repository
    assert "?guided_decoding=xgrammar" in error["message"]
    assert "guided_decoding_backend" in error["message"]
    assert "repo generate" not in error["message"]


def test_upstream_addresses() -> None:
    assert parse_upstream("grpc-trtllm://a:1,b:2") == UpstreamAddress(("a:1", "b:2"))
    assert parse_upstream("grpc-trtllm://a:1?guided_decoding=xgrammar").guided_decoding
    for bad in (
        "a:1",
        "grpc-trtllm://a",
        "grpc-trtllm://a:1/x",
        "grpc-trtllm://a:1?x=1",
        "grpc-trtllm://a:1?guided_decoding=outlines",
    ):
        with pytest.raises(UserError, match="--upstream"):
            parse_upstream(bad)


def test_upstream_replaces_triton_flags(tmp_path: object) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args(["--tokenizer", "t", "--upstream", "grpc-trtllm://h:1", "--triton", "h:2"])
    with pytest.raises(UserError, match="drop --triton"):
        from_namespace(ns, {})
    ok = from_namespace(parser.parse_args(["--tokenizer", "t", "--upstream", "grpc-trtllm://h:1"]), {})
    assert ok.upstream == UpstreamAddress(("h:1",))
