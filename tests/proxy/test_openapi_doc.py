"""The OpenAPI document lets schema-driven clients reach every route: the Responses body is documented, and
``model`` is one of the served names."""

from __future__ import annotations

from trtllm_nix.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for


def test_the_responses_body_is_documented_and_models_are_the_served_ones(assets: Assets) -> None:
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: []))) as client:
        document = client.get("/openapi.json").json()
    body = document["paths"]["/v1/responses"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = document["components"]["schemas"]
    responses = schemas[body["$ref"].rsplit("/", 1)[-1]]
    assert {"model", "input", "tools", "stream"} <= set(responses["properties"])
    for name in ("ChatCompletionRequest", "CompletionRequest", "ResponsesRequest", "TokenizeRequest"):
        assert schemas[name]["properties"]["model"]["enum"] == ["qwen3"], name
    references = [value for value in _walk(document) if isinstance(value, str) and value.startswith("#/")]
    missing = [ref for ref in references if ref.rsplit("/", 1)[-1] not in schemas]
    assert missing == []


def _walk(value: object) -> list[object]:
    out: list[object] = []
    stack = [value]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out
