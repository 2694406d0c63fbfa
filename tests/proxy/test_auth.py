"""D12: what an API key protects. Every /v1 route checks it (one router dependency, not a call per handler); the
API explorer is off behind a key; readiness says ready or not to anyone, which upstreams and how busy only with
the key."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.routing import APIRoute
from tokenizers import Tokenizer
from trtllm_nix.proxy import routes, tokenize
from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for, pieces


@dataclass
class _Watched(FakeUpstream):
    async def ready(self) -> bool:
        return True

    def status(self) -> list[dict[str, object]]:
        return [{"url": "10.0.0.7:8001", "healthy": True, "in_flight": 3}]


def test_every_v1_route_needs_the_key(assets: Assets, tokenizer: Tokenizer) -> None:
    app = app_with(assets.tokenizer, FakeUpstream(lambda _: pieces(tokenizer, ["ok"])), api_key="sesame")
    routers = (routes.v1, tokenize.router)  # every router create_app mounts besides health and metrics
    v1 = [
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    ]
    assert len(v1) >= 9
    assert {("POST", "/tokenize"), ("POST", "/detokenize")} <= set(v1)
    with client_for(app) as client:
        for method, path in v1:
            concrete = path.replace("{model_id:path}", "qwen3").replace("{response_id}", "resp_1")
            response = client.request(method, concrete, json={} if method == "POST" else None)
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["error"]["code"] == "invalid_api_key"


def test_the_api_explorer_is_off_behind_a_key(assets: Assets, tokenizer: Tokenizer) -> None:
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: []), api_key="sesame")) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404, path


def test_readiness_details_need_the_key(assets: Assets, tokenizer: Tokenizer) -> None:
    app = app_with(assets.tokenizer, _Watched(lambda _: []), api_key="sesame")
    with client_for(app) as client:
        anonymous = client.get("/health/ready")
        keyed = client.get("/health/ready", headers={"Authorization": "Bearer sesame"})
    assert anonymous.status_code == keyed.status_code == 200
    assert anonymous.json() == {"status": "ready"}
    assert keyed.json()["upstreams"] == [{"url": "10.0.0.7:8001", "healthy": True, "in_flight": 3, "model": "qwen3"}]
