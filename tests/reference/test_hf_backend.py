"""hf mode runs the tiny Qwen3 with PyTorch inside Triton: greedy output equals transformers' own greedy generate."""

from __future__ import annotations

import asyncio
from functools import cache

import numpy as np
import pytest
import torch
import tritonclient.grpc.aio as grpcclient
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from trtllm_nix_testkit.assets.build import Assets

from tests.helpers import RunningTriton, generate, request, tokens_of

PROMPT = "<|im_start|>user\nWrite a haiku about GPUs.<|im_end|>\n<|im_start|>assistant\n"


@cache
def _transformers_greedy(model_dir: str, ids: tuple[int, ...], n: int) -> list[int]:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    inputs = torch.tensor([list(ids)])
    with torch.inference_mode():
        out = model.generate(
            inputs,
            attention_mask=torch.ones_like(inputs),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=151643,
        )
    return [int(t) for t in out[0, len(ids) :]]


def test_greedy_equals_transformers_token_for_token(
    hf_triton: RunningTriton, assets: Assets, tokenizer: Tokenizer
) -> None:
    ids = list(tokenizer.encode(PROMPT, add_special_tokens=False).ids)
    expected = _transformers_greedy(str(assets.tiny_model), tuple(ids), 24)
    chunks = generate(hf_triton.server.grpc_url, request(ids, 24, end_id=-1, top_k=1))
    assert tokens_of(chunks) == expected
    assert len(set(expected)) > 3, "the tiny model should not repeat one token"


def test_seeded_sampling_repeats_and_seeds_differ(hf_triton: RunningTriton, tokenizer: Tokenizer) -> None:
    ids = list(tokenizer.encode(PROMPT, add_special_tokens=False).ids)

    def sample(seed: int) -> list[int]:
        req = request(ids, 16, end_id=-1, temperature=1.0, top_k=50, top_p=0.95, seed=seed)
        return tokens_of(generate(hf_triton.server.grpc_url, req))

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_logprobs_are_returned_for_each_token(hf_triton: RunningTriton, tokenizer: Tokenizer) -> None:
    ids = list(tokenizer.encode(PROMPT, add_special_tokens=False).ids)
    chunks = generate(hf_triton.server.grpc_url, request(ids, 5, end_id=-1, top_k=1, return_log_probs=True))
    logprobs = [lp for c in chunks if c.logprobs for lp in c.logprobs]
    assert len(logprobs) == 5
    assert all(lp <= 0.0 for lp in logprobs)


@pytest.mark.parametrize("exclude_input", [False, True])
def test_non_streaming_sends_one_response(
    hf_triton: RunningTriton, tokenizer: Tokenizer, assets: Assets, exclude_input: bool
) -> None:
    ids = list(tokenizer.encode(PROMPT, add_special_tokens=False).ids)

    def tensor(name: str, value: np.ndarray, datatype: str) -> grpcclient.InferInput:  # type: ignore[type-arg]
        item = grpcclient.InferInput(name, list(value.shape), datatype)
        item.set_data_from_numpy(value)
        return item

    async def run() -> list[np.ndarray]:  # type: ignore[type-arg]
        client = grpcclient.InferenceServerClient(hf_triton.server.grpc_url)
        inputs = [
            tensor("input_ids", np.asarray([ids], np.int32), "INT32"),
            tensor("input_lengths", np.asarray([[len(ids)]], np.int32), "INT32"),
            tensor("request_output_len", np.asarray([[6]], np.int32), "INT32"),
            tensor("runtime_top_k", np.asarray([[1]], np.int32), "INT32"),
            tensor("streaming", np.asarray([[False]]), "BOOL"),
            tensor("exclude_input_in_output", np.asarray([[exclude_input]]), "BOOL"),
        ]

        async def one():  # type: ignore[no-untyped-def]
            yield {"model_name": "tensorrt_llm", "inputs": inputs}

        outputs = []
        try:
            async for result, error in client.stream_infer(one()):
                assert error is None
                outputs.append(result.as_numpy("output_ids"))
        finally:
            await client.close()
        return outputs

    outputs = asyncio.run(run())
    assert len(outputs) == 1
    generated = _transformers_greedy(str(assets.tiny_model), tuple(ids), 6)
    assert outputs[0].reshape(-1).tolist() == (generated if exclude_input else ids + generated)
