"""The OpenAPI document lets schema-driven clients reach every route: the Responses and Messages bodies are
documented, and ``model`` is one of the served names."""

from __future__ import annotations

from trtllm_nix_testkit.assets.build import Assets

from tests.proxy.fake_upstream import FakeUpstream, app_with, client_for


def test_the_responses_body_is_documented_and_models_are_the_served_ones(assets: Assets) -> None:
    with client_for(app_with(assets.tokenizer, FakeUpstream(lambda _: []))) as client:
        document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, fields in (("/v1/responses", {"input", "tools"}), ("/v1/messages", {"messages", "max_tokens"})):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"model", "stream", *fields} <= set(schemas[body["$ref"].rsplit("/", 1)[-1]]["properties"]), path
    names = ("ChatCompletionRequest", "CompletionRequest", "ResponsesRequest", "MessagesRequest", "TokenizeRequest")
    for name in names:
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
