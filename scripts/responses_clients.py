"""The Responses API (/v1/responses) with real client libraries: the openai SDK, openai-agents with its default
model (OpenAIResponsesModel), litellm.responses, LangChain's ChatOpenAI(use_responses_api=True), the Codex CLI
(``--codex PATH``, the npm package's binary: a custom provider with ``wire_api = "responses"``), pydantic-ai's default
``output_type`` (a forced ``final_result`` call with thinking on, off script) and the Vercel AI SDK's default provider
(``--ai-sdk-node PATH``: tests/clients/ai_sdk_responses.mjs, a multi-step tool loop after reasoning that sends the
reasoning back as ``item_reference`` items).

Runs against --base-url, or starts `trtllm-nix demo --backend scripted` itself. The scripted backend replays the text
after the last ``#reply:`` in the prompt (testkit/trtllm_nix_testkit/reference/generators.py), so in scripted mode (the
default; ``--no-scripted`` for a real model) every prompt and tool result ends with the answer the demo should give:
a ``<tool_call>`` for the first turn of a tool round trip, the final text in the tool's output. Needs its own virtualenv
(`make clients-responses` makes .venv-clients); not part of `make test`. Every check prints one line; the exit
status is the number of failed checks.

With ``--no-scripted`` the demo serves the real SmolLM2-135M-Instruct on the hf backend (greedy). A 135M model
neither chooses a tool by itself nor recalls a name from an earlier turn, so there the checks ask what the API owes
and the model cannot get wrong: the first tool turn is forced (``tool_choice="required"``: guided decoding makes the
call valid), and ``previous_response_id`` must give the same answer, token for token and with the same input token
count, as sending the earlier turns explicitly. Every request is bounded (MAX_TOKENS) so a rambling model ends.
Against the hf demo Codex gets the real model's answers to its full prompt (about 4,600 SmolLM2 tokens of
instructions; SmolLM2's chat template has no place for tools, so the model never sees them) and resumes the session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


PARIS_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
SCRIPTED = True  # main() sets it from --scripted/--no-scripted
MAX_TOKENS = 48  # every request's bound: a real 135M model on two CPU cores makes about 20 tokens a second
AGENT_MAX_TOKENS = 256  # openai-agents refuses an incomplete response, so its turns get room to end by themselves


def first_tool_choice() -> str:
    """The scripted demo replays a call (auto); a real small model is made to call (required)."""
    return "auto" if SCRIPTED else "required"


def say(text: str, scripted_answer: str) -> str:
    """``text``, and for the scripted demo the ``#reply:`` directive that makes it answer ``scripted_answer``."""
    return f"{text} #reply: {scripted_answer}" if SCRIPTED else text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (a local URL we built)
            return bool(answer.status == 200)
    except OSError:
        return False


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"responses-clients: {what} did not come up within {timeout:.0f} s")
        time.sleep(0.5)


# ---- the checks ----------------------------------------------------------------------------------------------


def sdk_create(base: str, model: str) -> str:
    import openai

    client = openai.OpenAI(base_url=base, api_key="unused")
    response = client.responses.create(model=model, input=say("Say hello.", "Hello!"), max_output_tokens=MAX_TOKENS)
    assert response.status in ("completed", "incomplete"), response.status
    assert response.output_text, response.output
    fetched = client.responses.retrieve(response.id)
    assert fetched.id == response.id
    client.responses.delete(response.id)
    try:
        client.responses.retrieve(response.id)
    except openai.NotFoundError:
        return f"{response.output_text[:40]!r}; GET and DELETE by id"
    raise AssertionError("a deleted response is still there")


def sdk_stream(base: str, model: str) -> str:
    import openai

    client = openai.OpenAI(base_url=base, api_key="unused")
    prompt = say("Say hello.", "Hello there, streamed.")
    with client.responses.stream(model=model, input=prompt, max_output_tokens=MAX_TOKENS) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text, (deltas, final.output_text)
    return f"{len(deltas)} deltas"


def sdk_tool_round_trip(base: str, model: str) -> str:
    import openai

    client = openai.OpenAI(base_url=base, api_key="unused")
    tools: Any = [WEATHER_TOOL]
    question = say("What is the weather in Paris? Use the tool.", PARIS_CALL)
    first = client.responses.create(
        model=model, input=question, tools=tools, tool_choice=first_tool_choice(), max_output_tokens=MAX_TOKENS
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls, f"no function_call in {first.output}"
    json.loads(calls[0].arguments)  # the arguments are JSON
    outputs: Any = [
        {"type": "function_call_output", "call_id": call.call_id, "output": say(json.dumps({"sky": "sunny"}), "Sunny.")}
        for call in calls
    ]
    second = client.responses.create(
        model=model, previous_response_id=first.id, input=outputs, tools=tools, max_output_tokens=MAX_TOKENS
    )
    assert second.output_text, second.output
    return f"{calls[0].name}({calls[0].arguments}) -> {second.output_text[:40]!r}"


def sdk_previous_response_id(base: str, model: str) -> str:
    import openai

    client = openai.OpenAI(base_url=base, api_key="unused")
    opening = say("My name is Ada.", "Hello, Ada.")
    question = say("What is my name?", "Your name is Ada.")
    first = client.responses.create(model=model, input=opening, store=True, temperature=0, max_output_tokens=MAX_TOKENS)
    second = client.responses.create(
        model=model, input=question, previous_response_id=first.id, temperature=0, max_output_tokens=MAX_TOKENS
    )
    assert second.previous_response_id == first.id
    if SCRIPTED:
        assert "Ada" in second.output_text, second.output_text
    else:  # the stored turns must be what the model sees: the same as sending them explicitly
        history: Any = [
            {"role": "user", "content": opening},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": question},
        ]
        explicit = client.responses.create(model=model, input=history, temperature=0, max_output_tokens=MAX_TOKENS)
        assert second.usage
        assert explicit.usage
        assert first.usage
        assert second.usage.input_tokens == explicit.usage.input_tokens, (second.usage, explicit.usage)
        assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens, second.usage
        assert second.output_text == explicit.output_text, (second.output_text, explicit.output_text)
    try:
        client.responses.create(model=model, input="x", previous_response_id="resp_unknown")
    except openai.NotFoundError:
        tokens = second.usage.input_tokens if second.usage else 0
        return f"{second.output_text[:40]!r} ({tokens} input tokens); unknown id -> 404"
    raise AssertionError("an unknown previous_response_id was accepted")


def agents_default_model(base: str, model: str) -> str:
    import agents
    import openai

    agents.set_default_openai_client(openai.AsyncOpenAI(base_url=base, api_key="unused"), use_for_tracing=False)
    agents.set_default_openai_api("responses")
    agents.set_tracing_disabled(True)

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The current weather of a city."""
        return say(f"sunny in {city}", f"It is sunny in {city}.")

    # the agent resets tool_choice to auto after the first call (Agent.reset_tool_choice), so "required" ends
    settings = agents.ModelSettings(max_tokens=AGENT_MAX_TOKENS, tool_choice=first_tool_choice())
    agent = agents.Agent(
        name="helper", instructions="Answer briefly.", model=model, tools=[get_weather], model_settings=settings
    )
    result = asyncio.run(agents.Runner.run(agent, say("What is the weather in Paris?", PARIS_CALL), max_turns=4))
    assert isinstance(result.final_output, str), result.final_output
    assert result.final_output, result
    called = [item for item in result.new_items if item.type == "tool_call_item"]
    assert called, f"the agent never called get_weather: {result.new_items}"
    return f"{len(called)} call(s), then {result.final_output[:40]!r}"


def litellm_responses(base: str, model: str) -> str:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price list from GitHub
    import litellm

    prompt = say("Say hello.", "Hello from litellm.")
    response = litellm.responses(
        model=f"openai/{model}", input=prompt, api_base=base, api_key="unused", max_output_tokens=MAX_TOKENS
    )
    text = "".join(
        part.text
        for item in response.output
        if getattr(item, "type", None) == "message"
        for part in item.content
        if getattr(part, "type", None) == "output_text"
    )
    assert text, response
    return repr(text[:40])


def langchain_responses(base: str, model: str) -> str:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=model,
        base_url=base,
        api_key="unused",
        use_responses_api=True,
        max_tokens=MAX_TOKENS,  # type: ignore[arg-type]
    )
    answer = chat.invoke(say("Say hello.", "Hello from LangChain."))
    assert answer.text, answer
    streamed = "".join(chunk.text for chunk in chat.stream(say("Say hello.", "Streamed hello.")))
    assert streamed, "the stream had no text"
    return repr(answer.text[:40])


def pydantic_ai_output_type(base: str, model: str) -> str:
    """pydantic-ai's default ``output_type`` handling, a pydantic model: the output is a ``final_result`` tool the
    model is forced to call (``tool_choice: required``), here with thinking on. Off script on the scripted demo (no
    ``#reply:``): the stand-in's fallback must reach a complete call, and guided decoding holds it to the schema.
    Through the Responses API (OpenAIResponsesModel) and chat completions (OpenAIChatModel, pydantic-ai's
    ``openai:`` default)."""
    import pydantic
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    class Weather(pydantic.BaseModel):
        city: str
        sunny: bool

    provider = OpenAIProvider(base_url=base, api_key="unused")
    settings: Any = {"max_tokens": AGENT_MAX_TOKENS, "openai_reasoning_effort": "low", "temperature": 0}
    found = []
    for name, served in (
        ("responses", OpenAIResponsesModel(model, provider=provider)),
        ("chat", OpenAIChatModel(model, provider=provider)),
    ):
        started = time.monotonic()
        agent = Agent(served, output_type=Weather, model_settings=settings, retries=0)
        result = agent.run_sync("What is the weather in Paris? Say which city and whether it is sunny.")
        assert isinstance(result.output, Weather), result.output
        calls = [part.tool_name for message in result.all_messages() for part in message.parts
                 if getattr(part, "part_kind", None) == "tool-call"]  # fmt: skip
        thoughts = [part for message in result.all_messages() for part in message.parts
                    if getattr(part, "part_kind", None) == "thinking"]  # fmt: skip
        # SmolLM2 under a forced call with parallel calls allowed (pydantic-ai's default) repeats it; the first wins
        assert calls, result.all_messages()
        assert set(calls) == {"final_result"}, calls
        seconds = time.monotonic() - started
        found.append(f"{name}: {result.output!r} ({len(calls)} call(s), {len(thoughts)} thought(s), {seconds:.1f} s)")
    return "; ".join(found)


def pydantic_ai_thought_shown(base: str, model: str) -> str:
    """On script: a thought, then the forced ``final_result`` call; pydantic-ai shows the thought as a ThinkingPart
    (through the Responses API it reads the reasoning item's summary: ``openai_reasoning_summary``)."""
    if not SCRIPTED:
        return "skipped: SmolLM2 does not think"
    import pydantic
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    class Weather(pydantic.BaseModel):
        city: str
        sunny: bool

    provider = OpenAIProvider(base_url=base, api_key="unused")
    settings: Any = {
        "max_tokens": AGENT_MAX_TOKENS,
        "openai_reasoning_effort": "low",
        "openai_reasoning_summary": "auto",
    }
    answer = '{"name": "final_result", "arguments": {"city": "Paris", "sunny": true}}'
    prompt = say(
        "What is the weather in Paris?", f"<think>Paris is sunny today.</think><tool_call>\n{answer}\n</tool_call>"
    )
    found = []
    for name, served in (
        ("responses", OpenAIResponsesModel(model, provider=provider)),
        ("chat", OpenAIChatModel(model, provider=provider)),
    ):
        result = Agent(served, output_type=Weather, model_settings=settings, retries=0).run_sync(prompt)
        assert result.output == Weather(city="Paris", sunny=True), result.output
        thoughts = [part.content for message in result.all_messages() for part in message.parts
                    if getattr(part, "part_kind", None) == "thinking"]  # fmt: skip
        assert thoughts == ["Paris is sunny today."], (name, result.all_messages())
        found.append(f"{name}: {thoughts[0]!r}")
    return "; ".join(found)


AI_SDK: Path | None = None  # main() sets it from --ai-sdk-node


def ai_sdk(check: str) -> Callable[[str, str], str]:
    """One check of tests/clients/ai_sdk_responses.mjs: the Vercel AI SDK's default provider path (Node)."""

    def run(base: str, model: str) -> str:
        if AI_SDK is None:
            raise AssertionError("no --ai-sdk-node given (make clients-responses runs scripts/setup-ai-sdk)")
        script = Path(__file__).resolve().parent.parent / "tests/clients/ai_sdk_responses.mjs"
        copy = Path(".cache/ai-sdk") / script.name  # ES modules find packages next to the script only
        copy.write_bytes(script.read_bytes())
        done = subprocess.run(
            [str(AI_SDK), str(copy), base, model, "scripted" if SCRIPTED else "model", check],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        line = done.stdout.strip()
        assert line.startswith(f"ok   {check}: "), (done.returncode, line[-2000:], done.stderr[-2000:])
        assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
        return line.removeprefix(f"ok   {check}: ")

    return run


CODEX: Path | None = None  # main() sets it from --codex
CODEX_COMMAND_CALL = (  # the command's output carries the next answer; '#rep''ly' keeps the call itself from doing so
    '<tool_call>\n{"name": "exec_command", "arguments": {"cmd": "echo \'#rep\'\'ly: The command printed hi.\'"}}'
    "\n</tool_call>"
)


def codex_exec(base: str, model: str) -> str:
    """Codex CLI runs a command the model asks for and answers from its output, shows a thought, and resumes the
    session (replaying the reasoning item). Its own sandbox is bypassed: it needs helpers this machine may lack,
    and the only command is an echo."""
    if CODEX is None:
        raise AssertionError("no --codex binary given (make clients-responses installs one)")
    home = Path(".cache/trtllm-nix/codex-home").resolve()
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "trtllm-nix"\n\n[model_providers.trtllm-nix]\nname = "trtllm-nix"\n'
        f'base_url = "{base}"\nwire_api = "responses"\n',
        "utf-8",
    )

    def run(*words: str) -> list[dict[str, Any]]:
        command = [str(CODEX), "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                   "-C", str(work), *words]  # fmt: skip
        done = subprocess.run(
            command, env={**os.environ, "CODEX_HOME": str(home)}, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert done.returncode == 0, (done.returncode, done.stderr[-2000:], events)
        return [event["item"] for event in events if event["type"] == "item.completed"]

    def answer(items: list[dict[str, Any]]) -> str:
        return "".join(item["text"] for item in items if item["type"] == "agent_message").strip()

    if not SCRIPTED:  # a 135M model calls no tool by itself; it answers, and the session goes on
        first = answer(run("Say hello."))
        again = answer(run("resume", "--last", "Say it again."))
        assert first, "no answer"
        assert again, "no answer after resume"
        return f"{first[:40]!r}, resumed: {again[:40]!r}"
    items = run(say("Run the command.", CODEX_COMMAND_CALL))
    commands = [item for item in items if item["type"] == "command_execution"]
    assert [(item["exit_code"], item["aggregated_output"]) for item in commands] == [
        (0, "#reply: The command printed hi.\n")
    ], items
    assert answer(items) == "The command printed hi.", items
    items = run(say("Think first.", "<think>The user wants a greeting.</think>Hello after thinking."))
    thoughts = [item["text"] for item in items if item["type"] == "reasoning"]
    assert thoughts == ["The user wants a greeting."], items
    assert answer(items) == "Hello after thinking.", items
    items = run("resume", "--last", say("And again.", "Second answer."))
    assert answer(items) == "Second answer.", items
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"], "additionalProperties": False}  # fmt: skip
    (home / "schema.json").write_text(json.dumps(schema), "utf-8")
    shaped = [  # on script, and off it: guided decoding holds the answer to the schema either way
        json.loads(answer(run("--output-schema", str(home / "schema.json"), say("Weather in Paris?", reply))))
        for reply in ('{"city": "Paris", "sunny": true}', "It is sunny in Paris.")
    ]
    assert shaped[0] == {"city": "Paris", "sunny": True}, shaped
    assert set(shaped[1]) == {"city", "sunny"}, shaped
    return "ran echo and answered from its output; a thought shown; the session resumed; --output-schema held"


CHECKS: dict[str, Callable[[str, str], str]] = {
    "openai responses.create": sdk_create,
    "openai responses.stream": sdk_stream,
    "openai function tool round trip": sdk_tool_round_trip,
    "openai previous_response_id": sdk_previous_response_id,
    "openai-agents default model": agents_default_model,
    "litellm.responses": litellm_responses,
    "langchain use_responses_api": langchain_responses,
    "codex exec": codex_exec,
    "pydantic-ai output_type": pydantic_ai_output_type,
    "pydantic-ai thought shown": pydantic_ai_thought_shown,
    **{
        name: ai_sdk(name)
        for name in (
            "ai-sdk generateText tool loop, defaults",
            "ai-sdk generateText tool loop, reasoningSummary auto",
            "ai-sdk streamText tool loop, reasoningSummary auto",
        )
    },
}


def run_checks(base: str, model: str, only: list[str]) -> int:
    failed = 0
    for name, check in CHECKS.items():
        if only and not any(word in name for word in only):
            continue
        try:
            detail = check(base, model)
        except Exception as error:  # report every check, whatever broke it
            failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}")
            traceback.print_exc(limit=3)
        else:
            print(f"ok   {name}: {detail}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", help="a running proxy's /v1 URL; without it the demo is started")
    parser.add_argument("--model", help="the served model's name (default: qwen3 scripted, smollm2 with a model)")
    parser.add_argument("--trtllm-nix", default=".venv/bin/trtllm-nix")
    parser.add_argument("--only", nargs="*", default=[], help="run the checks whose names contain these words")
    parser.add_argument("--codex", type=Path, help="the Codex CLI binary (node_modules/.bin/codex of @openai/codex)")
    parser.add_argument("--ai-sdk-node", type=Path, help="Node >= 22 (scripts/setup-ai-sdk)")
    parser.add_argument("--log", type=Path, default=Path(".cache/trtllm-nix/responses-clients-demo.log"))
    parser.add_argument(
        "--scripted", action=argparse.BooleanOptionalAction, default=True,
        help="the endpoint is the scripted demo: prompts carry '#reply:' answers (default; --no-scripted: a model)",
    )  # fmt: skip
    args = parser.parse_args()
    global SCRIPTED, CODEX, AI_SDK
    SCRIPTED = args.scripted
    CODEX = args.codex
    AI_SDK = args.ai_sdk_node
    model = args.model or ("qwen3" if SCRIPTED else "smollm2")
    if args.base_url:
        return min(run_checks(args.base_url, model, args.only), 125)
    port = free_port()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    backend = ["--backend", "scripted"] if SCRIPTED else ["--backend", "hf", "--model", "smollm2"]
    command = [args.trtllm_nix, "demo", *backend, "--port", str(port)]
    with args.log.open("wb") as log:
        demo = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for("the demo proxy", lambda: http_ok(f"http://127.0.0.1:{port}/health/ready"), 180)
        failed = run_checks(f"http://127.0.0.1:{port}/v1", model, args.only)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    print(f"responses-clients: {'PASSED' if not failed else f'{failed} FAILED'}")
    return min(failed, 125)


if __name__ == "__main__":
    sys.exit(main())
