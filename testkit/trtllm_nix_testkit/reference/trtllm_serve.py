"""A stand-in for ``trtllm-serve MODEL --grpc``: the reference ``TrtllmService`` behind the same command line, for
the demo, the executing stand-in of the flake and any test that starts "the server" as a process.

Reads the flags of trtllm-serve that bear on the gRPC server (names as TensorRT-LLM's serve command spells them):
``MODEL``, ``--grpc``, ``--host`` (default localhost), ``--port`` (default 8000), ``--backend`` (pytorch),
``--tokenizer``, ``--max_seq_len`` (default: the model's ``max_position_embeddings``), ``--tp_size``/``--pp_size``
(reported by ``GetServerInfo``) and ``--config``/``--extra_llm_api_options`` (a YAML file; ``guided_decoding_backend:
xgrammar`` turns guided decoding on). Anything else is refused by name. ``--reference_mode scripted|hf`` is the
stand-in's own: replay ``#reply:`` text, or run MODEL's weights with PyTorch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from trtllm_nix_testkit.reference.trtllm_server import ReferenceModel, serve

EXTRA_OPTIONS = {"guided_decoding_backend"}  # the keys of --extra_llm_api_options the stand-in reads


class StandInError(ValueError):
    """A command line the stand-in does not serve (printed as one line, exit status 2)."""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="trtllm-serve (trtllm-nix stand-in)", description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--grpc", action="store_true")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--backend", default="pytorch")
    parser.add_argument("--tokenizer", type=Path)
    parser.add_argument("--max_seq_len", type=int)
    parser.add_argument("--tensor_parallel_size", "--tp_size", dest="tp_size", type=int, default=1)
    parser.add_argument("--pipeline_parallel_size", "--pp_size", dest="pp_size", type=int, default=1)
    parser.add_argument("--config", "--extra_llm_api_options", dest="extra_llm_api_options", type=Path)
    parser.add_argument("--reference_mode", choices=("scripted", "hf"), default="hf")
    return parser.parse_args(argv)


def reference_model(args: argparse.Namespace, workdir: Path) -> tuple[ReferenceModel, tuple[int, int]]:
    if not args.grpc:
        raise StandInError("the stand-in serves only --grpc (trtllm-serve's OpenAI HTTP server is not reproduced)")
    if args.backend != "pytorch":
        raise StandInError(f"--backend {args.backend}: the gRPC server runs on the pytorch backend")
    model = Path(args.model)
    tokenizer = args.tokenizer or model
    if not (tokenizer / "tokenizer.json").is_file():
        raise StandInError(f"{tokenizer} holds no tokenizer.json (pass --tokenizer DIR)")
    options = _extra_options(args.extra_llm_api_options)
    max_seq_len = args.max_seq_len or _max_positions(model)
    guided = None
    if options.get("guided_decoding_backend"):
        if options["guided_decoding_backend"] != "xgrammar":
            raise StandInError(f"guided_decoding_backend {options['guided_decoding_backend']!r}: only xgrammar")
        from trtllm_nix.repo.tokenizer_info import TOKENIZER_INFO_FILE, tokenizer_info_text

        guided = workdir / TOKENIZER_INFO_FILE
        guided.write_text(tokenizer_info_text(tokenizer), "utf-8")
    reference = ReferenceModel(
        backend=args.reference_mode,
        tokenizer_dir=tokenizer,
        max_seq_len=max_seq_len,
        model_id=args.model,  # GetModelInfo's model_id is the model path, as the servicer reports it
        model_dir=model if args.reference_mode == "hf" else None,
        guided_decoding=guided,
    )
    return reference, (args.tp_size, args.pp_size)


def _extra_options(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        options = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise StandInError(f"cannot read --extra_llm_api_options {path}: {error}") from error
    if not isinstance(options, dict):
        raise StandInError(f"--extra_llm_api_options {path} is not a mapping")
    unknown = sorted(set(options) - EXTRA_OPTIONS)
    if unknown:
        raise StandInError(f"--extra_llm_api_options {path}: the stand-in does not read {', '.join(unknown)}")
    return options


def _max_positions(model: Path) -> int:
    config = model / "config.json"
    if not config.is_file():
        raise StandInError(f"{model} has no config.json to deduce max_seq_len from: pass --max_seq_len")
    return int(json.loads(config.read_text("utf-8"))["max_position_embeddings"])


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="trtllm-serve-standin-") as workdir:
        try:
            model, parallel = reference_model(args, Path(workdir))
        except StandInError as error:
            print(f"trtllm-serve (stand-in): {error}", file=sys.stderr)
            return 2
        asyncio.run(serve(model, args.host, args.port, parallel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
