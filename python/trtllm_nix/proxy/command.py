"""``trtllm-nix proxy``: serve the OpenAI API in front of a running Triton."""

from __future__ import annotations

import argparse
from typing import Any

from trtllm_nix.errors import SetupError


def register(commands: Any) -> None:
    from trtllm_nix.proxy.settings import add_arguments

    parser = commands.add_parser("proxy", help="OpenAI-compatible API in front of Triton")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from trtllm_nix.proxy.app import create_app
    from trtllm_nix.proxy.settings import from_namespace
    from trtllm_nix.triton.ports import port_is_free

    settings = from_namespace(args)
    if not port_is_free(settings.port, settings.host):
        raise SetupError(f"port {settings.port} on {settings.host} is taken; pass --port with a free one")
    if settings.workers > 1:
        from trtllm_nix.proxy.workers import serve_workers

        serve_workers(settings)
        return 0
    app = create_app(settings)
    from trtllm_nix.proxy.http_limits import PROTOCOL

    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5, http=PROTOCOL
    )
    return 0
