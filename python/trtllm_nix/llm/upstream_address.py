"""``--upstream``: which kind of server the proxy sends token ids to, and where.

``grpc-trtllm://HOST:PORT[,HOST:PORT...][?guided_decoding=xgrammar]`` is TensorRT-LLM's ``TrtllmService``
(``trtllm-serve MODEL --grpc``, the PyTorch backend). ``guided_decoding=xgrammar`` says that the server was started
with a guided decoding backend (no RPC reports it); without it structured outputs are refused with a 400, as on a
Triton repository without one. Triton stays ``--triton HOST:PORT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from trtllm_nix.errors import UserError

SCHEME = "grpc-trtllm"
GUIDED_BACKENDS = ("xgrammar",)


@dataclass(frozen=True)
class UpstreamAddress:
    targets: tuple[str, ...]  # host:port each
    guided_decoding: bool = False

    def __str__(self) -> str:
        query = "?guided_decoding=xgrammar" if self.guided_decoding else ""
        return f"{SCHEME}://{','.join(self.targets)}{query}"


def parse_upstream(text: str) -> UpstreamAddress:
    usage = f"--upstream {text!r}: expected {SCHEME}://HOST:PORT[,HOST:PORT...][?guided_decoding=xgrammar]"
    parts = urlsplit(text)
    if parts.scheme != SCHEME or parts.path or parts.fragment or not parts.netloc:
        raise UserError(usage)
    targets = tuple(target.strip() for target in parts.netloc.split(","))
    for target in targets:
        host, colon, port = target.rpartition(":")
        if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise UserError(f"{usage} ({target!r} is not HOST:PORT)")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"guided_decoding"})
    if unknown:
        raise UserError(f"{usage} (unknown parameter {unknown[0]!r})")
    backend = query.get("guided_decoding", [""])[-1]
    if backend and backend not in GUIDED_BACKENDS:
        raise UserError(f"{usage} (guided_decoding must be xgrammar, got {backend!r})")
    return UpstreamAddress(targets, guided_decoding=bool(backend))
