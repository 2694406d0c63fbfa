"""Real client libraries against a running trtllm-nix endpoint: structured outputs and forced tool calls.

Run with ``make clients-structured`` (own virtualenv .venv-clients; not part of ``make test``) against an endpoint
with guided decoding on (``trtllm-nix demo`` turns it on). Against the scripted demo (``--scripted``, what
``make clients-structured`` passes) each prompt ends with a ``#reply:`` answer for the scripted backend to replay:
the clients' requests, the guided decoding and the parsing are real, the "model" is the script. Off its script the
scripted stand-in wanders in the unconstrained think block of a Qwen3 prompt with thinking on (the answer after it
is constrained: proxy/structured.py) until the length limit, which says nothing about a real model.
Usage: structured_clients.py BASE_URL MODEL [--scripted]
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Literal

from pydantic import BaseModel


class Weather(BaseModel):
    city: str
    unit: Literal["c", "f"]


SCRIPTED = False  # main() sets it from --scripted


def say(text: str, scripted_answer: str) -> str:
    """``text``, and for the scripted demo the ``#reply:`` directive that makes it answer ``scripted_answer``."""
    return f"{text} #reply: {scripted_answer}" if SCRIPTED else text


def call(name: str, arguments: dict[str, str]) -> str:
    body = json.dumps({"name": name, "arguments": arguments})
    return f"<tool_call>\n{body}\n</tool_call>"


OSLO = {"city": "Oslo", "unit": "c"}


def check_openai_parse(base: str, model: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=base, api_key="none")
    result = client.chat.completions.parse(
        model=model,
        messages=[{"role": "user", "content": say("Weather in Oslo?", json.dumps(OSLO))}],
        response_format=Weather,
    )
    assert isinstance(result.choices[0].message.parsed, Weather)


def check_instructor_tools(base: str, model: str) -> None:
    import instructor
    from openai import OpenAI

    client = instructor.from_openai(OpenAI(base_url=base, api_key="none"), mode=instructor.Mode.TOOLS)
    weather = client.chat.completions.create(
        model=model,
        response_model=Weather,
        messages=[{"role": "user", "content": say("Weather in Oslo?", call("Weather", OSLO))}],
    )
    assert isinstance(weather, Weather)


def check_langchain(base: str, model: str) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=base, api_key="none", model=model)
    structured = llm.with_structured_output(Weather, method="function_calling")
    assert isinstance(structured.invoke(say("Weather in Oslo?", call("Weather", OSLO))), Weather)

    @tool
    def get_time(zone: str) -> str:
        """The time in a time zone."""
        return "12:00"

    message = llm.bind_tools([get_time], tool_choice="get_time").invoke(
        say("What time is it in UTC?", call("get_time", {"zone": "UTC"}))
    )
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
    asyncio.run(Runner.run(agent, say("Weather in Oslo?", call("get_weather", {"city": "Oslo"}))))
    assert calls, "the agent never called its tool"


def main() -> int:
    global SCRIPTED
    base, model = sys.argv[1], sys.argv[2]
    SCRIPTED = "--scripted" in sys.argv[3:]
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
