"""The Anthropic Messages API (/v1/messages) with real clients: the Anthropic Python SDK (create, stream, a tool round
trip, thinking, count_tokens) and Claude Code non-interactive (``claude -p --output-format stream-json``, ``--claude
PATH``: the npm package's native binary).

Runs against --base-url, or starts `trtllm-nix demo` itself (the scripted backend by default; ``--no-scripted``: the
hf backend with the real SmolLM2-135M-Instruct). The scripted backend replays the text after the last ``#reply:`` in
the prompt, so in scripted mode every prompt and tool result ends with the answer the demo should give: for Claude
Code, the prompt scripts a thought and a Read call, and the file it reads scripts the final text, so the loop is
thinking -> tool use -> tool result -> text. Claude Code runs with its telemetry, error reporting and updates off,
HOME in a temporary folder, and a closed proxy for anything but loopback. Every check prints one line; the exit
status is the number of failed checks. ``--transcript FILE`` writes Claude Code's stream-json events and the result.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

WEATHER = {
    "name": "get_weather",
    "description": "The current weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PARIS_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
SCRIPTED = True
MAX_TOKENS = 48  # a real 135M model on two CPU cores makes about 20 tokens a second
CLAUDE: Path | None = None
TRANSCRIPT: Path | None = None


def say(text: str, scripted_answer: str) -> str:
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
            raise SystemExit(f"anthropic-clients: {what} did not come up within {timeout:.0f} s")
        time.sleep(0.5)


def client(base: str) -> Any:
    import anthropic

    return anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0)


def text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


# ---- the checks ----------------------------------------------------------------------------------------------


def sdk_create(base: str, model: str) -> str:
    message = client(base).messages.create(
        model=model,
        max_tokens=MAX_TOKENS,
        system="You are terse.",
        messages=[{"role": "user", "content": say("Say hello.", "Hello!")}],
    )
    assert message.stop_reason in ("end_turn", "max_tokens"), message.stop_reason
    assert text_of(message), message.content
    assert message.usage.input_tokens > 0, message.usage
    return f"{text_of(message)[:40]!r}, {message.usage.input_tokens} in / {message.usage.output_tokens} out"


def sdk_stream(base: str, model: str) -> str:
    ask = [{"role": "user", "content": say("Say hello.", "Hello there, streamed.")}]
    with client(base).messages.stream(model=model, max_tokens=MAX_TOKENS, messages=ask) as stream:
        deltas = [e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"]
        final = stream.get_final_message()
    assert "".join(deltas) == text_of(final), (deltas, final.content)
    return f"{len(deltas)} deltas, stop_reason {final.stop_reason}"


def sdk_tool_round_trip(base: str, model: str) -> str:
    sdk = client(base)
    # A 135M model is made to call, once: with parallel calls allowed it writes whitespace after the call until the
    # limit (docs/anthropic-api.md)
    choice: Any = {"type": "auto"} if SCRIPTED else {"type": "any", "disable_parallel_tool_use": True}
    ask: Any = [{"role": "user", "content": say("Weather in Paris?", PARIS_CALL)}]
    fields: Any = {"model": model, "tools": [WEATHER]}
    first = sdk.messages.create(max_tokens=2 * MAX_TOKENS, messages=ask, tool_choice=choice, **fields)
    calls = [block for block in first.content if block.type == "tool_use"]
    assert [call.name for call in calls] == ["get_weather"], first.content
    assert first.stop_reason == "tool_use", first.stop_reason
    result = {"type": "tool_result", "tool_use_id": calls[0].id, "content": say("Sunny, 21 C.", "It is sunny.")}
    history: Any = [
        *ask,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [result]},
    ]
    second = sdk.messages.create(max_tokens=MAX_TOKENS, messages=history, **fields)
    assert text_of(second), second.content
    if SCRIPTED:
        assert text_of(second) == "It is sunny.", second.content
    return f"get_weather({json.dumps(calls[0].input)}) -> {text_of(second)[:40]!r}"


def sdk_thinking(base: str, model: str) -> str:
    if not SCRIPTED:
        return "skipped: SmolLM2 does not think"
    sdk = client(base)
    ask: Any = [{"role": "user", "content": say("Think first.", "<think>\nA greeting is due.\n</think>\n\nHello.")}]
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    with sdk.messages.stream(model=model, max_tokens=200, messages=ask, thinking=thinking) as stream:
        kinds = {e.delta.type for e in stream if e.type == "content_block_delta"}
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"], final.content
    assert final.content[0].thinking == "A greeting is due.", final.content  # type: ignore[union-attr]
    assert {"thinking_delta", "signature_delta", "text_delta"} <= kinds, kinds
    follow: Any = [
        *ask,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in final.content]},
        {"role": "user", "content": say("Again.", "Hello again.")},
    ]
    again = sdk.messages.create(model=model, max_tokens=200, messages=follow, thinking=thinking)
    assert text_of(again) == "Hello again.", again.content
    return "thinking, signature and text deltas; the signed thinking block accepted back"


def sdk_count_tokens(base: str, model: str) -> str:
    sdk = client(base)
    fields: Any = {"model": model, "system": "Be brief.", "messages": [{"role": "user", "content": say("Hi.", "Hi.")}]}
    counted = sdk.messages.count_tokens(**fields).input_tokens
    used = sdk.messages.create(max_tokens=MAX_TOKENS, **fields).usage.input_tokens
    assert counted == used, (counted, used)
    return f"{counted} tokens, as usage.input_tokens"


def claude_code(base: str, model: str) -> str:
    if CLAUDE is None:
        return "skipped: no --claude"
    with tempfile.TemporaryDirectory(prefix="anthropic-clients-") as folder:
        root = Path(folder)
        work, home = root / "work", root / "home"
        work.mkdir()
        home.mkdir()
        target = work / "hello.txt"
        target.write_text(say("hello from a file", "The file says hello."), "utf-8")
        call = json.dumps({"name": "Read", "arguments": {"file_path": str(target)}})
        prompt = say("Read hello.txt and tell me what it says.", f"<think>\nI should read the file.\n</think>\n\n"
                     f"<tool_call>\n{call}\n</tool_call>")  # fmt: skip
        env = {
            **os.environ,
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "ANTHROPIC_BASE_URL": base,
            "ANTHROPIC_API_KEY": "unused",
            "ANTHROPIC_MODEL": model,
            "ANTHROPIC_SMALL_FAST_MODEL": model,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "HTTPS_PROXY": "http://127.0.0.1:9",  # a closed port: nothing leaves the machine but loopback
            "HTTP_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        command = [str(CLAUDE), "-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Read"]
        done = subprocess.run(
            command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if TRANSCRIPT is not None:
        TRANSCRIPT.parent.mkdir(parents=True, exist_ok=True)
        TRANSCRIPT.write_text("".join(json.dumps(event) + "\n" for event in events), "utf-8")
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    result = events[-1]
    assert result["type"] == "result", result
    assert result["subtype"] == "success", result
    blocks = [block for e in events if e["type"] in ("assistant", "user") for block in e["message"]["content"]]
    kinds = [block["type"] for block in blocks if isinstance(block, dict)]
    if not SCRIPTED:
        assert result["result"], result
        return f"answered {result['result'][:60]!r} in {result['num_turns']} turn(s)"
    assert kinds == ["thinking", "tool_use", "tool_result", "text"], kinds
    assert blocks[1]["name"] == "Read", blocks[1]
    assert "hello from a file" in json.dumps(blocks[2]["content"]), blocks[2]
    assert result["result"] == "The file says hello.", result
    return f"thinking -> Read -> tool_result -> {result['result']!r} ({result['num_turns']} turns)"


CHECKS: dict[str, Callable[[str, str], str]] = {
    "anthropic messages.create": sdk_create,
    "anthropic messages.stream": sdk_stream,
    "anthropic tool round trip": sdk_tool_round_trip,
    "anthropic thinking": sdk_thinking,
    "anthropic count_tokens": sdk_count_tokens,
    "claude -p": claude_code,
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
            print(f"ok   {name}: {detail}", flush=True)
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", help="a running proxy's root URL (the SDKs add /v1/messages); else the demo")
    parser.add_argument("--model", help="the served model's name (default: qwen3 scripted, smollm2 with a model)")
    parser.add_argument("--trtllm-nix", default=".venv/bin/trtllm-nix")
    parser.add_argument("--only", nargs="*", default=[], help="run the checks whose names contain these words")
    parser.add_argument(
        "--claude", type=Path, help="Claude Code's binary (bin/claude.exe of @anthropic-ai/claude-code)"
    )
    parser.add_argument("--transcript", type=Path, help="write Claude Code's stream-json events here")
    parser.add_argument("--log", type=Path, default=Path(".cache/trtllm-nix/anthropic-clients-demo.log"))
    parser.add_argument(
        "--scripted", action=argparse.BooleanOptionalAction, default=True,
        help="the endpoint is the scripted demo: prompts carry '#reply:' answers (default; --no-scripted: a model)",
    )  # fmt: skip
    args = parser.parse_args()
    global SCRIPTED, CLAUDE, TRANSCRIPT
    SCRIPTED, TRANSCRIPT = args.scripted, args.transcript
    CLAUDE = args.claude.resolve() if args.claude else None  # it runs in a temporary folder
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
        failed = run_checks(f"http://127.0.0.1:{port}", model, args.only)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    print(f"anthropic-clients: {'PASSED' if not failed else f'{failed} FAILED'}")
    return min(failed, 125)


if __name__ == "__main__":
    sys.exit(main())
