"""``preprocessing``, ``postprocessing`` and ``ensemble``: the text side of the repository, as protobuf messages.

``preprocessing`` and ``postprocessing`` keep upstream's contracts for clients that call them directly. The
``ensemble`` keeps upstream's client contract (``text_input``, ``max_tokens``, ``stream``, ...) but is a decoupled
Python model, not a Triton ensemble: it streams byte-correct text deltas decoded from all generated ids, and a
cancelled client request cancels generation (Triton ensembles pass neither on).
"""

from __future__ import annotations

import json
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as pb

from trtllm_nix.repo.tensors import BOOL, F32, I32, STRING, U64, Tensor

PREPROCESSING_INPUTS = (
    Tensor("QUERY", STRING, (1,), optional=False),
    Tensor("REQUEST_OUTPUT_LEN", I32, (1,), optional=False),
    Tensor("BAD_WORDS_DICT", STRING, (-1,)),
    Tensor("STOP_WORDS_DICT", STRING, (-1,)),
    Tensor("EMBEDDING_BIAS_WORDS", STRING, (-1,)),
    Tensor("EMBEDDING_BIAS_WEIGHTS", F32, (-1,)),
    Tensor("END_ID", I32, (1,)),
    Tensor("PAD_ID", I32, (1,)),
)
PREPROCESSING_OUTPUTS = (
    Tensor("INPUT_ID", I32, (-1,)),
    Tensor("REQUEST_INPUT_LEN", I32, (1,)),
    Tensor("BAD_WORDS_IDS", I32, (2, -1)),
    Tensor("STOP_WORDS_IDS", I32, (2, -1)),
    Tensor("EMBEDDING_BIAS", F32, (-1,)),
    Tensor("REQUEST_OUTPUT_LEN", I32, (-1,)),
    Tensor("OUT_END_ID", I32, (1,)),
    Tensor("OUT_PAD_ID", I32, (1,)),
)
POSTPROCESSING_INPUTS = (
    Tensor("TOKENS_BATCH", I32, (-1, -1), optional=False),
    Tensor("SEQUENCE_LENGTH", I32, (-1,), optional=False),
)
POSTPROCESSING_OUTPUTS = (Tensor("OUTPUT", STRING, (-1,)),)

ENSEMBLE_INPUTS = (
    Tensor("text_input", STRING, (1,), optional=False),
    Tensor("max_tokens", I32, (1,), optional=False),
    Tensor("bad_words", STRING, (-1,)),
    Tensor("stop_words", STRING, (-1,)),
    Tensor("exclude_input_in_output", BOOL),
    Tensor("end_id", I32),
    Tensor("pad_id", I32),
    Tensor("top_k", I32),
    Tensor("top_p", F32),
    Tensor("temperature", F32),
    Tensor("length_penalty", F32),
    Tensor("repetition_penalty", F32),
    Tensor("min_tokens", I32),
    Tensor("presence_penalty", F32),
    Tensor("frequency_penalty", F32),
    Tensor("seed", U64),
    Tensor("return_log_probs", BOOL),
    Tensor("return_num_input_tokens", BOOL),
    Tensor("return_num_output_tokens", BOOL),
    Tensor("beam_width", I32),
    Tensor("num_return_sequences", I32),
    Tensor("stream", BOOL),
    Tensor("lora_task_id", U64),
    Tensor("guided_decoding_guide_type", STRING),
    Tensor("guided_decoding_guide", STRING),
)
ENSEMBLE_OUTPUTS = (
    Tensor("text_output", STRING, (-1,)),
    Tensor("cum_log_probs", F32, (-1,)),
    Tensor("output_log_probs", F32, (-1, -1)),
    Tensor("num_input_tokens", I32, (1,)),
    Tensor("num_output_tokens", I32, (1,)),
)


def _python_model(
    name: str,
    max_batch_size: int,
    inputs: tuple[Tensor, ...],
    outputs: tuple[Tensor, ...],
    parameters: dict[str, str],
    instances: int,
    decoupled: bool,
) -> pb.ModelConfig:
    config = pb.ModelConfig(
        name=name,
        backend="python",
        max_batch_size=max_batch_size,
        input=[t.as_input() for t in inputs],
        output=[t.as_output() for t in outputs],
        instance_group=[pb.ModelInstanceGroup(count=instances, kind=pb.ModelInstanceGroup.KIND_CPU)],
    )
    if decoupled:
        config.model_transaction_policy.decoupled = True
    else:
        config.dynamic_batching.SetInParent()
    for key in sorted(parameters):
        config.parameters[key].string_value = parameters[key]
    return config


def preprocessing_config(max_batch_size: int, tokenizer_dir: str, instances: int) -> pb.ModelConfig:
    params = {"tokenizer_dir": tokenizer_dir, "add_special_tokens": "false"}
    return _python_model(
        "preprocessing", max_batch_size, PREPROCESSING_INPUTS, PREPROCESSING_OUTPUTS, params, instances, decoupled=False
    )


def postprocessing_config(max_batch_size: int, tokenizer_dir: str) -> pb.ModelConfig:
    params = {"tokenizer_dir": tokenizer_dir, "skip_special_tokens": "true"}
    # One instance: several would reorder streamed chunks (lab-triton.md, failure 10).
    return _python_model(
        "postprocessing", max_batch_size, POSTPROCESSING_INPUTS, POSTPROCESSING_OUTPUTS, params, 1, decoupled=False
    )


def ensemble_config(max_batch_size: int, tokenizer_dir: str, max_seq_len: int, generator_model: str) -> pb.ModelConfig:
    params = {
        "tokenizer_dir": tokenizer_dir,
        "tensorrt_llm_model_name": generator_model,
        "max_seq_len": str(max_seq_len),
        "triton_grpc_url": "",  # empty: $TRTLLM_NIX_TRITON_GRPC_URL, which `trtllm-nix serve` sets
    }
    return _python_model("ensemble", max_batch_size, ENSEMBLE_INPUTS, ENSEMBLE_OUTPUTS, params, 1, decoupled=True)


def sources_prelude() -> str:
    """Lines that put trtllm_nix's own pure-Python sources on the stub's path: inside the image's Python (3.12,
    with numpy, tokenizers, jinja2 but no trtllm_nix) the repository points at them, wherever they are installed."""
    import trtllm_nix

    sources = str(Path(trtllm_nix.__file__).resolve().parent.parent)
    quoted = json.dumps(sources)  # a double-quoted Python string literal, as ruff format writes it
    return f"import sys\n\nif {quoted} not in sys.path:\n    sys.path.append({quoted})\n\n"


def model_py(module: str) -> str:
    """The ``1/model.py`` of a model implemented in trtllm_nix: a re-export, so the code is tested in one place."""
    return (
        f'"""Implemented in {module} (trtllm-nix)."""\n\n'
        f"{sources_prelude()}"
        f"from {module} import TritonPythonModel\n\n"
        '__all__ = ["TritonPythonModel"]\n'
    )
