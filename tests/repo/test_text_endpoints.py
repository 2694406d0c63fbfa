"""The generated repository in the real tritonserver: the seed's curl paths, byte-exact text, cancellation."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import RunningTriton, wait_until

TEXT = "Grüße aus 東京 🎉👨‍👩‍👧 — naïve café"


def _events(response: httpx.Response) -> list[dict[str, object]]:
    return [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")]


def test_health_ready(scripted_triton: RunningTriton) -> None:
    assert httpx.get(f"{scripted_triton.server.http_url}/v2/health/ready").status_code == 200


def test_generate_returns_the_whole_text(scripted_triton: RunningTriton) -> None:
    url = f"{scripted_triton.server.http_url}/v2/models/ensemble/generate"
    body = httpx.post(url, json={"text_input": f"#reply: {TEXT}", "max_tokens": 64}).json()
    assert body["text_output"] == TEXT


def test_generate_can_include_the_prompt(scripted_triton: RunningTriton) -> None:
    url = f"{scripted_triton.server.http_url}/v2/models/ensemble/generate"
    body = httpx.post(url, json={"text_input": "#reply: ok", "max_tokens": 8, "exclude_input_in_output": False}).json()
    assert body["text_output"] == "#reply: okok"


@pytest.mark.parametrize("stream", [True, False])
def test_generate_stream_is_byte_exact(scripted_triton: RunningTriton, stream: bool) -> None:
    url = f"{scripted_triton.server.http_url}/v2/models/ensemble/generate_stream"
    with httpx.stream("POST", url, json={"text_input": f"#reply: {TEXT}", "max_tokens": 64, "stream": stream}) as r:
        events = _events(r)
    texts = [str(e["text_output"]) for e in events]
    assert "".join(texts) == TEXT
    assert all("\ufffd" not in t for t in texts)
    if stream:
        assert len(events) > 5


def test_stop_words_and_second_end_id(scripted_triton: RunningTriton) -> None:
    url = f"{scripted_triton.server.http_url}/v2/models/ensemble/generate"
    cut = httpx.post(
        url, json={"text_input": "#reply: one two STOP three", "max_tokens": 32, "stop_words": ["STOP"]}
    ).json()
    assert cut["text_output"] == "one two "
    eos = httpx.post(url, json={"text_input": "#reply: before<|endoftext|>after", "max_tokens": 32}).json()
    assert eos["text_output"] == "before"


def test_bad_request_is_an_error_not_a_hang(scripted_triton: RunningTriton) -> None:
    url = f"{scripted_triton.server.http_url}/v2/models/ensemble/generate"
    response = httpx.post(url, json={"text_input": "x", "max_tokens": 0})
    assert response.status_code == 400
    assert "max_tokens must be at least 1" in response.json()["error"]
    beams = httpx.post(url, json={"text_input": "x", "max_tokens": 4, "beam_width": 2})
    assert "beam_width must be 1" in beams.json()["error"]


def test_cancelled_generate_stream_stops_the_backend(scripted_triton: RunningTriton) -> None:
    before = scripted_triton.stats()
    url = f"{scripted_triton.server.http_url}/v2/models/ensemble/generate_stream"
    # a 1000-token answer at 30 ms a token (30 s): it cannot finish before the cancellation arrives; prompt plus
    # max_tokens within the 4096-token context (3000 words of prompt made it an error event, not a stream)
    body = {"text_input": "#reply: " + "word " * 1000, "max_tokens": 1024, "stream": True, "token_delay_ms": 30}
    with httpx.stream("POST", url, json=body) as response:
        lines = response.iter_lines()
        received = 0
        for line in lines:
            if line.startswith("data: "):
                received += 1
                if received == 3:
                    break
    assert received == 3, "three tokens streamed before leaving"
    wait_until(lambda: scripted_triton.stats()["cancelled"] == before["cancelled"] + 1, 30, "the backend to stop")
    assert scripted_triton.stats()["finished"] == before["finished"], "cancelled, not run to its end"
    assert scripted_triton.stats()["tokens"] - before["tokens"] < 1000
