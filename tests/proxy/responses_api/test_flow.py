"""The modules composed as the route will compose them (replay_server), driven by the real async openai SDK over
ASGI: create, retrieve, delete, 404, a function-tool round trip continued with previous_response_id, streaming."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai

from tests.proxy.responses_api.replay_server import app

TOOLS: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}]


def with_client(scenario: Callable[[openai.AsyncOpenAI], Awaitable[None]]) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=app())
        async with httpx.AsyncClient(transport=transport) as http:
            client = openai.AsyncOpenAI(base_url="http://proxy.test/v1", api_key="k", http_client=http, max_retries=0)
            await scenario(client)

    asyncio.run(run())


def test_create_retrieve_delete_and_404() -> None:
    async def scenario(client: openai.AsyncOpenAI) -> None:
        created = await client.responses.create(model="qwen3", input="hi")
        assert created.output_text == "Hello from trtllm-nix!"
        assert (await client.responses.retrieve(created.id)).output_text == created.output_text
        await client.responses.delete(created.id)
        try:
            await client.responses.retrieve(created.id)
        except openai.NotFoundError as error:
            assert error.body == {  # noqa: PT017 (the SDK's own exception, asserted where it is caught)
                "message": f"Response with id '{created.id}' not found.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        else:
            raise AssertionError("a deleted response is still there")

    with_client(scenario)


def test_a_function_tool_round_trip_with_previous_response_id() -> None:
    async def scenario(client: openai.AsyncOpenAI) -> None:
        first = await client.responses.create(model="qwen3", input="Weather in Paris?", tools=TOOLS)
        call = next(item for item in first.output if item.type == "function_call")
        second = await client.responses.create(
            model="qwen3",
            previous_response_id=first.id,
            tools=TOOLS,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        )
        assert second.previous_response_id == first.id
        assert second.output_text == "Hello from trtllm-nix!"  # the tool result reached the conversation

    with_client(scenario)


def test_an_unknown_previous_response_id_is_a_404_and_store_false_is_not_kept() -> None:
    async def scenario(client: openai.AsyncOpenAI) -> None:
        unstored = await client.responses.create(model="qwen3", input="hi", store=False)
        for response_id in ("resp_nope", unstored.id):
            try:
                await client.responses.create(model="qwen3", input="x", previous_response_id=response_id)
            except openai.NotFoundError as error:
                assert error.body["param"] == "previous_response_id"  # type: ignore[index]  # noqa: PT017
            else:
                raise AssertionError(f"{response_id} was found")

    with_client(scenario)


def test_a_streamed_response_is_stored_as_streamed() -> None:
    async def scenario(client: openai.AsyncOpenAI) -> None:
        async with client.responses.stream(model="qwen3", input="hi") as stream:
            final = await stream.get_final_response()
        stored = await client.responses.retrieve(final.id)
        assert stored.output_text == final.output_text == "Hello from trtllm-nix!"

    with_client(scenario)


def test_a_refused_field_is_a_400_in_openais_shape() -> None:
    async def scenario(client: openai.AsyncOpenAI) -> None:
        try:
            await client.responses.create(model="qwen3", input="hi", extra_body={"frobnicate": True})
        except openai.BadRequestError as error:
            assert error.body["param"] == "frobnicate"  # type: ignore[index]  # noqa: PT017
        else:
            raise AssertionError("an unknown field was accepted")

    with_client(scenario)
