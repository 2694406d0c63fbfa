"""``trtllm-nix``: one command, one subcommand per pipeline step. User mistakes print one line, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from trtllm_nix import __version__
from trtllm_nix.errors import UserError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from trtllm_nix import catalog_lock, demo, doctor
    from trtllm_nix.engine import command as engine_command
    from trtllm_nix.launch import command as serve_command
    from trtllm_nix.launch import pytorch_command
    from trtllm_nix.proxy import command as proxy_command
    from trtllm_nix.repo import command as repo_command

    parser = argparse.ArgumentParser(prog="trtllm-nix", description=__doc__)
    parser.add_argument("--version", action="version", version=f"trtllm-nix {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.register(commands)
    engine_command.register(commands)
    repo_command.register(commands)
    serve_command.register(commands)
    pytorch_command.register(commands)
    proxy_command.register(commands)
    doctor.register(commands)
    catalog_lock.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as error:
        print(f"trtllm-nix {args.command}: error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
