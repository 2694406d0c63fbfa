"""``trtllm-nix-testkit assets``: build the demo and test assets (the Qwen tokenizer, the tiny Qwen3, the real
SmolLM2 and its exports) into ``$TRTLLM_NIX_CACHE`` (default ``.cache/trtllm-nix``); ``make setup`` runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trtllm_nix.errors import UserError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trtllm-nix-testkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("assets", help="build the tiny Qwen3 model and the Qwen tokenizer (tests, demo)")
    args = parser.parse_args(argv)
    from trtllm_nix_testkit.assets.build import ensure_assets

    try:
        built = ensure_assets()
    except UserError as error:
        print(f"trtllm-nix-testkit {args.command}: error: {error.message}", file=sys.stderr)
        return error.exit_code
    print(f"tokenizer: {built.tokenizer}\ntiny model: {built.tiny_model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
