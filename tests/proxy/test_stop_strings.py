"""Stop strings are matched on decoded text (across token boundaries), held back, and never emitted."""

from __future__ import annotations

import openai
import pytest

from tests.helpers import RunningTriton, wait_until


@pytest.mark.parametrize(
    ("reply", "stop", "expected"),
    [
        ("Hello world and more", "world", "Hello "),
        ("Hello world and more", ["zzz", "and"], "Hello world "),
        ("Hello world and more", ["lo wo"], "Hel"),  # spans two tokens: "Hello" + " world"
        ("东京 🎉 tail", "🎉", "东京 "),  # a multi-byte character split across tokens
        ("no match here", ["xyz", "hereafter"], "no match here"),
    ],
)
def test_stop_strings_cut_streamed_and_not(
    client: openai.OpenAI, reply: str, stop: str | list[str], expected: str
) -> None:
    messages = [{"role": "user", "content": f"#reply: {reply}"}]
    whole = client.chat.completions.create(model="qwen3", messages=messages, stop=stop)  # type: ignore[arg-type]
    stream = client.chat.completions.create(model="qwen3", messages=messages, stop=stop, stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert whole.choices[0].message.content == streamed == expected
    assert whole.choices[0].finish_reason == "stop"


def test_stop_string_cancels_the_rest_of_the_generation(client: openai.OpenAI, scripted_triton: RunningTriton) -> None:
    """The answer cannot finish before the cancellation arrives (3000 tokens at 10 ms each): only a cancellation
    ends it (with no delay it often finished first, and the wait for the cancellation failed)."""
    before = scripted_triton.stats()
    messages = [{"role": "user", "content": "#delay_ms:10 #reply: alpha STOP " + "filler " * 3000}]
    answer = client.chat.completions.create(model="qwen3", messages=messages, stop="STOP")  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "alpha "
    assert answer.usage is not None
    assert answer.usage.completion_tokens < 10
    wait_until(lambda: scripted_triton.stats()["cancelled"] == before["cancelled"] + 1, 30, "the cancellation")
    assert scripted_triton.stats()["finished"] == before["finished"], "cancelled, not run to its end"


def test_second_end_id_ends_the_answer(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "#reply: done<|endoftext|>never shown"}]
    answer = client.chat.completions.create(model="qwen3", messages=messages)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "done"
    assert answer.choices[0].finish_reason == "stop"
