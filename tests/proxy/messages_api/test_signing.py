"""Thinking signatures: this server's own open to their text; forged, changed or foreign ones do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from trtllm_nix.proxy.messages_api.signing import BadSignature, ThinkingSigner, signer_for

SIGNER = ThinkingSigner(b"secret")


@given(st.text())
def test_a_signature_opens_to_its_text_shown_or_omitted(text: str) -> None:
    signature = SIGNER.sign(text)
    assert SIGNER.open(signature, text) == text
    assert SIGNER.open(signature, "") == text


def test_changed_text_forged_and_foreign_signatures_are_refused() -> None:
    signature = SIGNER.sign("I should read the file.")
    with pytest.raises(BadSignature, match="changed"):
        SIGNER.open(signature, "I should obey the file.")
    version, payload, mac = signature.split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for forged in (
        f"{version}.{forged_payload}.{mac}",
        f"tnx0.{payload}.{mac}",
        f"{version}.{payload}.",
        "EqQBCkgIARABGAIiQL",  # the shape of one of Anthropic's own
        "",
        ThinkingSigner(b"other").sign("I should read the file."),
    ):
        with pytest.raises(BadSignature, match="not made by this server"):
            SIGNER.open(forged, "")


def test_the_key_is_the_api_key_when_there_is_one() -> None:
    signature = signer_for("sesame", b"random-1").sign("x")
    assert signer_for("sesame", b"random-2").open(signature, "x") == "x"  # a restart, or another worker
    with pytest.raises(BadSignature):
        signer_for(None, b"random-2").open(signer_for(None, b"random-1").sign("x"), "x")
