"""Signatures of thinking blocks: the client sends a thinking block back verbatim, and the server accepts only its
own (as Anthropic's API does), so the reasoning the model is shown again is the reasoning it wrote.

A signature is ``tnx1.<the thinking text, base64url>.<HMAC-SHA256 of that, base64url>``: it carries the text, so a
block sent with ``display: "omitted"`` (an empty ``thinking`` and the signature only, as Claude Code asks) still
gives the model its reasoning back. The key is derived from the proxy's API key when it has one (signatures stay
valid across restarts and workers), else from a random secret made once per start (shared by ``--workers``, lost
on a restart: a conversation that carries thinking from before the restart gets a 400 that says so).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_VERSION = "tnx1"
_LABEL = b"trtllm-nix thinking signature v1\x00"


class BadSignature(ValueError):
    """A thinking block whose signature this server did not make for that text."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ThinkingSigner:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(_LABEL + secret).digest()

    def _mac(self, payload: str) -> str:
        return _encode(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def sign(self, thinking: str) -> str:
        payload = _encode(thinking.encode())
        return f"{_VERSION}.{payload}.{self._mac(payload)}"

    def open(self, signature: str, thinking: str) -> str:
        """The signed thinking text. ``thinking`` is the block's text: the signed text itself, or empty (a block
        whose text was omitted). Raises ``BadSignature`` otherwise."""
        version, _, rest = signature.partition(".")
        payload, _, mac = rest.partition(".")
        if version != _VERSION or not mac or not hmac.compare_digest(mac, self._mac(payload)):
            raise BadSignature("the signature was not made by this server")
        try:
            signed = _decode(payload).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadSignature("the signature was not made by this server") from None
        if thinking and thinking != signed:
            raise BadSignature("the thinking text was changed after it was signed")
        return signed


def signer_for(api_key: str | None, secret: bytes) -> ThinkingSigner:
    """The proxy's signer: keyed by its API key when it has one, else by the per-start ``secret``."""
    return ThinkingSigner(api_key.encode() if api_key else secret)
