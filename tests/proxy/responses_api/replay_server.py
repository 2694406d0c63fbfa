"""A stand-in for the /v1/responses route until it is wired into the proxy core: the real protocol, translation,
renderer and store modules, with a scripted generation in place of the model (a thought, then a function call
when tools are offered and no tool result came back yet, else a greeting).

It stands for the route's HTTP surface only: it cannot show tokenization, the chat template, cancellation or the
backend. Use: ``python -m tests.proxy.responses_api.replay_server PORT``, then point
``scripts/responses_clients.py --base-url http://127.0.0.1:PORT/v1`` at it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from trtllm_nix.llm.events import Finish
from trtllm_nix.proxy.api_errors import APIError, install_error_handlers
from trtllm_nix.proxy.output_events import ContentText, OutputEvent, ReasoningText, Tokens, ToolCall
from trtllm_nix.proxy.responses_api.protocol import parse_request
from trtllm_nix.proxy.responses_api.render import StreamRenderer, new_meta, render_response
from trtllm_nix.proxy.responses_api.store import (
    SQLiteStore,
    delete_response,
    get_response,
    previous_conversation,
    remember,
)
from trtllm_nix.proxy.responses_api.translate import conversation_of, to_chat


def scripted(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> list[OutputEvent]:
    answered = any(message["role"] == "tool" for message in messages)
    events: list[OutputEvent] = [
        ReasoningText("The user wants ", Tokens((1, 2))),
        ReasoningText("an answer.", Tokens((3,))),
    ]
    if tools and not answered:
        name = tools[0]["function"]["name"]
        events.append(ToolCall(0, "call_0001", name, '{"city": "Paris"}', Tokens((4, 5))))
    else:
        events += [ContentText("Hello", Tokens((6,))), ContentText(" from trtllm-nix!", Tokens((7, 8)))]
    return [*events, Finish("stop", prompt_tokens=sum(len(str(m)) for m in messages) // 4, completion_tokens=8)]


def app() -> FastAPI:
    server = FastAPI()
    install_error_handlers(server)
    store = SQLiteStore()

    @server.post("/v1/responses", response_model=None)
    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None
        parsed = parse_request(body)
        conversation = conversation_of(parsed, previous_conversation(store, parsed.previous_response_id))
        chat = to_chat(parsed, conversation)
        events = scripted(chat.messages, chat.tools)
        meta = new_meta(parsed.model, parsed)
        if not parsed.stream:
            final = render_response(events, meta)
            remember(store, parsed.store, conversation, final)
            return JSONResponse(final)
        renderer = StreamRenderer(meta)

        async def stream() -> AsyncIterator[bytes]:
            yield renderer.start()
            for event in events:
                yield renderer.feed(event)
            assert renderer.final is not None
            remember(store, parsed.store, conversation, renderer.final)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @server.get("/v1/responses/{response_id}")
    async def fetch(response_id: str) -> JSONResponse:
        return JSONResponse(get_response(store, response_id))

    @server.delete("/v1/responses/{response_id}")
    async def delete(response_id: str) -> JSONResponse:
        return JSONResponse(delete_response(store, response_id))

    @server.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return server


if __name__ == "__main__":
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
