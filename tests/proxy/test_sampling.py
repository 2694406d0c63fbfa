"""What reaches the engine: sampling values, defaults from generation_config.json, limits and end ids."""

from __future__ import annotations

import openai

from tests.helpers import RunningTriton


def _ask(client: openai.OpenAI, **fields: object) -> None:
    client.chat.completions.create(model="qwen3", messages=[{"role": "user", "content": "#reply: x"}], **fields)  # type: ignore[call-overload]


def test_absent_fields_take_the_models_generation_config(client: openai.OpenAI, scripted_triton: RunningTriton) -> None:
    _ask(client)
    sent = scripted_triton.last_request()
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (0.6000000238418579, 0.949999988079071, 20)
    assert sent["end_id"] == 151645
    assert sent["stop_sequences"] == [[151643]]
    assert sent["streaming"] is True


def test_temperature_zero_stays_greedy(client: openai.OpenAI, scripted_triton: RunningTriton) -> None:
    _ask(client, temperature=0, top_p=0.5)
    sent = scripted_triton.last_request()
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (None, None, 1)


def test_explicit_values_are_forwarded(client: openai.OpenAI, scripted_triton: RunningTriton) -> None:
    _ask(
        client,
        temperature=1.25,
        top_p=0.5,
        seed=42,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        extra_body={"top_k": 7, "repetition_penalty": 1.1},
    )
    sent = scripted_triton.last_request()
    assert sent["temperature"] == 1.25
    assert sent["top_p"] == 0.5
    assert sent["top_k"] == 7
    assert sent["seed"] == 42
    assert sent["presence_penalty"] == 0.5
    assert sent["frequency_penalty"] == -0.5
    assert abs(float(sent["repetition_penalty"]) - 1.1) < 1e-6  # type: ignore[arg-type]


def test_max_tokens_defaults_to_what_is_left_of_the_context(
    client: openai.OpenAI, scripted_triton: RunningTriton
) -> None:
    _ask(client)
    sent = scripted_triton.last_request()
    assert sent["max_new_tokens"] == 40960 - int(sent["prompt_tokens"])  # type: ignore[call-overload]
    _ask(client, max_completion_tokens=5, max_tokens=9)
    assert scripted_triton.last_request()["max_new_tokens"] == 5


def test_ignore_eos_drops_the_end_ids(client: openai.OpenAI, scripted_triton: RunningTriton) -> None:
    _ask(client, max_tokens=3, extra_body={"ignore_eos": True})
    sent = scripted_triton.last_request()
    assert sent["end_id"] is None
    assert sent["stop_sequences"] == []
