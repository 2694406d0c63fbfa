"""Real client libraries against a running trtllm-nix endpoint: structured outputs and forced tool calls.

Run with ``make clients-structured`` (own virtualenv .venv-clients; not part of ``make test``). Needs the proxy's
guided-decoding wiring (python/trtllm_nix/proxy/structured.py into the chat route); until then the checks fail.
Usage: structured_clients.py BASE_URL MODEL
"""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

from pydantic import BaseModel


class Weather(BaseModel):
    city: str
    unit: Literal["c", "f"]


def check_openai_parse(base: str, model: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=base, api_key="none")
    result = client.chat.completions.parse(
        model=model, messages=[{"role": "user", "content": "Weather in Oslo?"}], response_format=Weather
    )
    assert isinstance(result.choices[0].message.parsed, Weather)


def check_instructor_tools(base: str, model: str) -> None:
    import instructor
    from openai import OpenAI

    client = instructor.from_openai(OpenAI(base_url=base, api_key="none"), mode=instructor.Mode.TOOLS)
    weather = client.chat.completions.create(
        model=model, response_model=Weather, messages=[{"role": "user", "content": "Weather in Oslo?"}]
    )
    assert isinstance(weather, Weather)


def check_langchain(base: str, model: str) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=base, api_key="none", model=model)
    structured = llm.with_structured_output(Weather, method="function_calling")
    assert isinstance(structured.invoke("Weather in Oslo?"), Weather)

    @tool
    def get_time(zone: str) -> str:
        """The time in a time zone."""
        return "12:00"

    message = llm.bind_tools([get_time], tool_choice="get_time").invoke("What time is it in UTC?")
    assert [call["name"] for call in message.tool_calls] == ["get_time"]


def check_openai_agents(base: str, model: str) -> None:
    from agents import Agent, ModelSettings, OpenAIChatCompletionsModel, Runner, function_tool
    from openai import AsyncOpenAI

    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "sunny"

    agent = Agent(
        name="weather",
        model=OpenAIChatCompletionsModel(model=model, openai_client=AsyncOpenAI(base_url=base, api_key="none")),
        tools=[get_weather],
        model_settings=ModelSettings(tool_choice="required"),
        tool_use_behavior="stop_on_first_tool",
    )
    asyncio.run(Runner.run(agent, "Weather in Oslo?"))
    assert calls, "the agent never called its tool"


def main() -> int:
    base, model = sys.argv[1], sys.argv[2]
    failed = 0
    for check in (check_openai_parse, check_instructor_tools, check_langchain, check_openai_agents):
        try:
            check(base, model)
            print(f"PASS {check.__name__}")
        except Exception as error:
            failed += 1
            print(f"FAIL {check.__name__}: {type(error).__name__}: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
