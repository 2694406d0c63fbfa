"""The OpenAPI document as schema-driven clients and fuzzers need it: what FastAPI writes, plus

- the bodies of ``POST /v1/responses`` and ``/v1/messages``, which their routes parse themselves (to answer in their
  API's own words), so FastAPI documented none and a client generated from the schema could not call them;
- ``model`` as one of the served model names (an ``enum``) wherever a request body has it: a free string let a
  generated request reach only the model-not-found 404, never the route behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from trtllm_nix.proxy.messages_api.protocol import Conversation, MessagesRequest
from trtllm_nix.proxy.responses_api.protocol import ResponsesRequest

# The routes that parse their body themselves (to answer in their API's own words): path, model, and a prefix for
# the names of its schemas, apart from the chat API's (both have a FunctionTool, say)
SELF_PARSED: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("/v1/responses", ResponsesRequest, "Responses"),
    ("/v1/messages", MessagesRequest, "Messages"),
    ("/v1/messages/count_tokens", Conversation, "Messages"),
)


def install_openapi(app: FastAPI, model_names: Sequence[str]) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            _add_bodies(doc, schemas)
            for schema in schemas.values():
                _pin_model(schema, list(model_names))
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _add_bodies(doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    for path, model, prefix in SELF_PARSED:
        operation = doc.get("paths", {}).get(path, {}).get("post")
        if operation is None:
            continue
        body = model.model_json_schema(ref_template=f"#/components/schemas/{prefix}{{model}}")
        for name, schema in body.pop("$defs", {}).items():
            schemas[prefix + name] = schema
        schemas[model.__name__] = body
        reference = {"$ref": f"#/components/schemas/{model.__name__}"}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": reference}}}


def _pin_model(schema: dict[str, Any], names: list[str]) -> None:
    model = schema.get("properties", {}).get("model")
    if isinstance(model, dict) and model.get("type") == "string":
        model["enum"] = names
