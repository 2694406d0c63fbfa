"""Stored responses seen by every worker: two apps over one state directory stand for ``--workers 2`` (or two
proxies behind a gateway), a third for the proxy after a restart."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer
from trtllm_nix.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces


def test_another_worker_and_a_restarted_proxy_see_a_stored_response(
    assets: Assets, tokenizer: Tokenizer, tmp_path: Path
) -> None:
    upstream = FakeUpstream(lambda _: pieces(tokenizer, ["Paris."]))
    first, second = (app_with(assets.tokenizer, upstream, state_dir=tmp_path) for _ in range(2))
    with client_for(first) as one:
        created = one.post("/v1/responses", json={"model": "qwen3", "input": "Capital of France?"})
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    assert (tmp_path / "responses.sqlite3").is_file()

    with client_for(second) as two:
        assert two.get(f"/v1/responses/{response_id}").json() == created.json()
        follow_up = two.post(
            "/v1/responses", json={"model": "qwen3", "input": "And Italy?", "previous_response_id": response_id}
        )
    assert follow_up.status_code == 200, follow_up.text
    prompt = tokenizer.decode(upstream.requests[-1].input_ids)
    assert "Capital of France?" in prompt
    assert "Paris." in prompt

    with client_for(app_with(assets.tokenizer, upstream, state_dir=tmp_path)) as restarted:
        assert restarted.get(f"/v1/responses/{response_id}").status_code == 200
        assert restarted.delete(f"/v1/responses/{response_id}").json()["deleted"] is True
    with client_for(first) as one:
        assert one.get(f"/v1/responses/{response_id}").status_code == 404
