"""``trtllm-nix demo``: the whole stack on a laptop, no GPU: real tritonserver, reference backend, OpenAI proxy."""

from __future__ import annotations

import argparse
from typing import Any

from trtllm_nix.errors import SetupError

# --model: the real SmolLM2-135M-Instruct (bf16, default), its ModelOpt NVFP4 export, or the tiny random Qwen3.
MODELS = ("smollm2", "smollm2-nvfp4", "qwen3-tiny")
SERVED_NAMES = {"smollm2": "smollm2", "smollm2-nvfp4": "smollm2-nvfp4", "qwen3-tiny": "qwen3"}
QUESTION = "What is the capital of France?"


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run Triton (reference backend) and the OpenAI proxy on this machine")
    parser.add_argument(
        "--backend",
        choices=("hf", "scripted"),
        default="hf",
        help="hf: the --model with PyTorch; scripted: replays '#reply:' text from the prompt",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        default=None,
        help="smollm2 (default with hf): the real SmolLM2-135M-Instruct; smollm2-nvfp4: its ModelOpt NVFP4 export; "
        "qwen3-tiny (default with scripted): the tiny random Qwen3 (real Qwen vocabulary, random answers)",
    )
    parser.add_argument(
        "--lane",
        choices=("engine", "pytorch"),
        default="engine",
        help="engine: tritonserver with the reference tensorrt_llm model (the engine lane); pytorch: the reference "
        "TrtllmService, as trtllm-serve --grpc serves the PyTorch backend (docs/pytorch-lane.md)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="proxy port")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The demo runs the testkit's reference backend: a checkout's ``make setup`` installs it, the product does not."""
    try:
        from trtllm_nix_testkit.demo import run as run_demo
    except ImportError as error:
        raise SetupError(
            f"the demo runs the testkit's reference backend, which is not installed ({error}): `make demo` in a "
            "trtllm-nix checkout installs it (testkit/)"
        ) from error
    return run_demo(args)
