"""The smoke verdict on one answer: the seed's first troubleshooting symptom fails, a real answer passes."""

from __future__ import annotations

from trtllm_nix.smoke import judge, repeating_garbage, smoke


def test_a_short_answer_that_stops_passes() -> None:
    finding = judge("The capital of France is Paris.", "stop")
    assert finding.ok
    assert "Paris" in finding.detail


def test_repeating_garbage_fails_and_says_what_to_check() -> None:
    finding = judge("unounounounounouno", "length")
    assert not finding.ok
    assert "repeating garbage" in finding.detail
    assert "hf_quant_config.json" in finding.fix


def test_an_empty_answer_fails() -> None:
    assert "empty answer" in judge("  ", "stop").detail


def test_no_end_token_within_the_limit_fails() -> None:
    finding = judge("Paris is a city with many streets and people and", "length")
    assert not finding.ok
    assert "no end token within 64 tokens" in finding.detail


def test_normal_text_is_not_garbage() -> None:
    assert repeating_garbage("The capital of France is Paris. It is a beautiful city.") is None
    assert repeating_garbage("!!!!!!!!!!!!!!") == "!!!!!!!!!!!!!!"


def test_an_unreachable_server_fails_with_a_hint() -> None:
    finding = smoke("http://127.0.0.1:9/v1", timeout_s=5)
    assert not finding.ok
    assert "no answer" in finding.detail
