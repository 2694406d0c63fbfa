"""What each lane's backend can do (``llm.backend.Capabilities``), declared here once: the engine lane (Triton's
``tensorrt_llm`` model over a built engine) and the PyTorch lane (TensorRT-LLM's ``TrtllmService``). grpc-free, so a
proxy knows a lane's capabilities without its client's extra installed."""

from __future__ import annotations

from trtllm_nix.llm.backend import Capabilities
from trtllm_nix.llm.events import GuideType

ALL_GUIDES: frozenset[GuideType] = frozenset({"json", "json_schema", "regex", "ebnf_grammar"})
NO_GUIDED_DECODING = (
    "guided decoding, which the served model {model} does not have (its tensorrt_llm config sets no "
    "guided_decoding_backend, or the proxy was started without --model-repository); regenerate the repository with "
    "`trtllm-nix repo generate --guided-decoding` and pass it to the proxy"
)
NO_GENERATION_LOGITS = (
    "the generation logits of an engine built with gather_generation_logits; the served model {model} has none"
)


def engine_lane(context_logits: bool, generation_logits: bool, guided: bool) -> Capabilities:
    """Triton's ``tensorrt_llm`` model: logprobs always; alternatives and prompt scoring from the logits the engine
    was built to gather (computed by the proxy, off its loop); guides when its config names xgrammar."""
    return Capabilities(
        top_logprobs=generation_logits,
        prompt_scoring=context_logits,
        guided=ALL_GUIDES if guided else frozenset(),
        missing={
            "min_p": "TensorRT-LLM's tensorrt_llm Triton model has no min-p sampling",
            "priority": "TensorRT-LLM's Triton backend schedules requests first come, first served",
            "top_logprobs": NO_GENERATION_LOGITS,
            "prompt_scoring": (
                "the context logits of an engine built with gather_context_logits; the served model {model} has "
                "none (build a variant with `trtllm-nix engine build --gather-context-logits` and pass its "
                "repository as --model-repository)"
            ),
            "guided_decoding": NO_GUIDED_DECODING,
        },
    )


def pytorch_lane(guided: bool) -> Capabilities:
    """TensorRT-LLM's ``TrtllmService``: logprobs and top-k alternatives from the server, no logits (so no prompt
    scoring); guides when the server was started with xgrammar (``?guided_decoding=xgrammar``)."""
    return Capabilities(
        top_logprobs=True,
        prompt_scoring=False,
        guided=ALL_GUIDES if guided else frozenset(),
        missing={
            "min_p": "this proxy does not send min_p to TensorRT-LLM's TrtllmService yet",
            "priority": "TensorRT-LLM's TrtllmService takes no priority",
            "prompt_scoring": (
                "its logits; the served model {model} runs on TensorRT-LLM's TrtllmService (the PyTorch lane), "
                "which returns no logits: serve it through the engine lane with an engine built with "
                "--gather-context-logits, or omit echo or logprobs"
            ),
            "guided_decoding": (
                "guided decoding, which the served model {model} does not have here: the server was not declared "
                "to enforce guides; start trtllm-serve with `guided_decoding_backend: xgrammar` in its "
                "--extra_llm_api_options file and add ?guided_decoding=xgrammar to the proxy's grpc-trtllm:// address"
            ),
        },
    )
