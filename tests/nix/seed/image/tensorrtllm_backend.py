"""Stand-in for TensorRT-LLM's C++ Triton backend (``libtriton_tensorrtllm.so``) in the stand-in image root.

Triton loads a Python-based backend from ``backends/tensorrtllm/model.py`` when the backend has no shared library,
so a repository written by ``trtllm-nix repo generate`` (``backend: "tensorrtllm"``) loads here unchanged. Like the
real backend (model_instance_state.cc at the commit in upstream_facts.json), it reads the model's parameters, needs
``gpt_model_type`` and ``gpt_model_path`` (a folder with the engine's config.json and one engine per rank), and
refuses a parameter value outside the recorded choices. What it serves is the reference generator (scripted mode:
``#reply:`` answers, else a short reply) on the engine's own tokenizer. It cannot show TensorRT-LLM's kernels,
memory use, in-flight batching or anything a GPU does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, "/opt/standin/python")  # the reference generator, shipped in the stand-in image itself
from trtllm_nix_testkit.reference.triton_model import TritonPythonModel as ReferenceModel

FACTS: dict[str, Any] = json.loads(Path(os.environ["TRTLLM_STANDIN_FACTS"]).read_text("utf-8"))["cpp_backend"]
CHOICES = {
    "gpt_model_type": FACTS["gpt_model_type_values"],
    "batch_scheduler_policy": FACTS["batch_scheduler_policy_values"],
    "decoding_mode": FACTS["decoding_mode_values"],
}


def check(parameters: dict[str, str]) -> Path:
    """The engine folder; a ValueError (Triton fails the model load with it) for what the C++ backend refuses."""
    for name in ("gpt_model_type", "gpt_model_path"):
        if not parameters.get(name):
            raise ValueError(f"[TensorRT-LLM][ERROR] Assertion failed: parameter {name} is required")
    for name, allowed in CHOICES.items():
        value = parameters.get(name, "")
        if value and value not in allowed:
            raise ValueError(f"[TensorRT-LLM][ERROR] {name} {value!r} is not one of {', '.join(allowed)}")
    engine = Path(parameters["gpt_model_path"])
    config = engine / "config.json"
    if not config.is_file():
        raise ValueError(f"[TensorRT-LLM][ERROR] no engine config at {config}")
    world = json.loads(config.read_text("utf-8"))["pretrained_config"]["mapping"]["world_size"]
    ranks = int(os.environ.get("OMPI_COMM_WORLD_SIZE") or 1)
    if ranks != world:
        raise ValueError(f"[TensorRT-LLM][ERROR] the engine was built for world size {world}, running with {ranks}")
    return engine


class TritonPythonModel(ReferenceModel):
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        parameters = config.setdefault("parameters", {})
        engine = check({key: value.get("string_value", "") for key, value in parameters.items()})
        parameters["mode"] = {"string_value": "scripted"}
        parameters["tokenizer_dir"] = {"string_value": str(engine / "tokenizer")}
        super().initialize({**args, "model_config": json.dumps(config)})
