"""The OpenAPI document as schema-driven clients and fuzzers need it: what FastAPI writes, plus

- the body of ``POST /v1/responses``, which the route parses itself (to answer in the Responses API's own words), so
  FastAPI documented none and a client generated from the schema could not call it;
- ``model`` as one of the served model names (an ``enum``) wherever a request body has it: a free string let a
  generated request reach only the model-not-found 404, never the route behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from trtllm_nix.proxy.responses_api.protocol import ResponsesRequest

RESPONSES_PREFIX = "Responses"  # its schemas' names, apart from the chat API's (both have a FunctionTool, say)


def install_openapi(app: FastAPI, model_names: Sequence[str]) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            _add_responses_body(doc, schemas)
            for schema in schemas.values():
                _pin_model(schema, list(model_names))
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _add_responses_body(doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    operation = doc.get("paths", {}).get("/v1/responses", {}).get("post")
    if operation is None:
        return
    body = ResponsesRequest.model_json_schema(ref_template=f"#/components/schemas/{RESPONSES_PREFIX}{{model}}")
    for name, schema in body.pop("$defs", {}).items():
        schemas[RESPONSES_PREFIX + name] = schema
    schemas[ResponsesRequest.__name__] = body
    reference = {"$ref": f"#/components/schemas/{ResponsesRequest.__name__}"}
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": reference}}}


def _pin_model(schema: dict[str, Any], names: list[str]) -> None:
    model = schema.get("properties", {}).get("model")
    if isinstance(model, dict) and model.get("type") == "string":
        model["enum"] = names
