"""Several models behind one proxy: /v1/models lists each, and the request's model picks its upstream and limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer
from trtllm_nix.errors import UserError
from trtllm_nix.proxy.app import create_app
from trtllm_nix.proxy.settings import ModelSpec, ProxySettings, parse_model_spec
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, client_for, pieces, served_repository


def test_each_model_has_its_own_upstream_and_limits(assets: Assets, tokenizer: Tokenizer, tmp_path: Path) -> None:
    small = ModelSpec("small", assets.tokenizer, "127.0.0.1:1", model_repository=served_repository(tmp_path, 1024))
    settings = ProxySettings(tokenizer=assets.tokenizer, extra_models=(small,))
    big_up = FakeUpstream(lambda _: pieces(tokenizer, ["from qwen3"]))
    small_up = FakeUpstream(lambda _: pieces(tokenizer, ["from small"]))
    with client_for(create_app(settings, upstream={"qwen3": big_up, "small": small_up})) as client:
        cards = {card["id"]: card["max_model_len"] for card in client.get("/v1/models").json()["data"]}
        assert cards == {"qwen3": 40960, "small": 1024}
        for name in ("qwen3", "small"):
            body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
            answer = client.post("/v1/chat/completions", json=body).json()
            assert answer["choices"][0]["message"]["content"] == f"from {name}"
            assert answer["model"] == name
        missing = client.post("/v1/completions", json={"model": "other", "prompt": "x"})
    assert missing.status_code == 404
    assert "'qwen3', 'small'" in missing.json()["error"]["message"]
    assert small_up.requests[0].max_new_tokens < 1024 < big_up.requests[0].max_new_tokens


def test_served_model_flag() -> None:
    spec = parse_model_spec("small:tokenizer=/t,triton=a:1+b:2,max-model-len=8192")
    assert spec == ModelSpec("small", Path("/t"), "a:1,b:2", max_model_len=8192)
    with pytest.raises(UserError, match="needs NAME:tokenizer=DIR,triton=HOST:PORT"):
        parse_model_spec("small:tokenizer=/t")
    with pytest.raises(UserError, match="'colour=red' is not one of"):
        parse_model_spec("small:tokenizer=/t,triton=a:1,colour=red")
    with pytest.raises(UserError, match="its own name"):
        ProxySettings(tokenizer=Path("/t"), extra_models=(ModelSpec("qwen3", Path("/t"), "a:1"),))
