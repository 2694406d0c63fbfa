"""Guided decoding over real gRPC against real Triton: the reference backend honours TensorRT-LLM's
``guided_decoding_guide_type``/``guided_decoding_guide`` tensors with xgrammar, in scripted and hf mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import pytest
import tritonclient.grpc.aio as grpcclient
import xgrammar
from tokenizers import Tokenizer
from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.structured import guided_decoding_for
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

from tests.helpers import RunningTriton

EOS = 151645
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 12},
        "role": {"enum": ["admin", "user", "guest"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 1, "maxItems": 3},
        "address": {
            "type": "object",
            "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}, "city": {"type": "string"}},
            "required": ["zip", "city"],
            "additionalProperties": False,
        },
        "active": {"type": "boolean"},
    },
    "required": ["name", "role", "tags", "address", "active"],
    "additionalProperties": False,
}
SMALL = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "color": {"enum": ["red", "green", "blue"]}},
    "required": ["ok", "color"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["c", "f"]}},
                "required": ["city", "unit"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


@dataclass
class Answer:
    tokens: list[int]
    responses: int
    error: str | None


def _start(
    tmp: Path, runtime: TritonRuntime, assets: Assets, mode: str, guided: bool = True
) -> Iterator[RunningTriton]:
    stats = tmp / "stats.json"
    repo = write_reference_repository(
        tmp / "repo",
        mode,  # type: ignore[arg-type]
        assets.tokenizer,
        assets.tiny_model,
        stats,
        guided_decoding=guided,
    )
    with TritonServer(runtime, repo, tmp / "work") as server:
        yield RunningTriton(server, stats)


@pytest.fixture(scope="module")
def guided_scripted(
    tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets
) -> Iterator[RunningTriton]:
    yield from _start(tmp_path_factory.mktemp("guided-scripted"), runtime, assets, "scripted")


@pytest.fixture(scope="module")
def guided_hf(
    tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets
) -> Iterator[RunningTriton]:
    yield from _start(tmp_path_factory.mktemp("guided-hf"), runtime, assets, "hf")


@pytest.fixture(scope="module")
def unguided_scripted(
    tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets
) -> Iterator[RunningTriton]:
    yield from _start(tmp_path_factory.mktemp("unguided-scripted"), runtime, assets, "scripted", guided=False)


def _prompt(tokenizer: Tokenizer, reply: str | None) -> list[int]:
    said = f"#reply: {reply}" if reply is not None else "Tell me about someone."
    text = f"<|im_start|>user\n{said}<|im_end|>\n<|im_start|>assistant\n"
    return list(tokenizer.encode(text, add_special_tokens=False).ids)


def ask(
    url: str, ids: list[int], max_new: int, guide: GuidedDecoding | None, streaming: bool = True, **extra: Any
) -> Answer:
    def tensor(name: str, value: np.ndarray, datatype: str) -> grpcclient.InferInput:  # type: ignore[type-arg]
        item = grpcclient.InferInput(name, list(value.shape), datatype)
        item.set_data_from_numpy(value)
        return item

    inputs = [
        tensor("input_ids", np.asarray([ids], np.int32), "INT32"),
        tensor("input_lengths", np.asarray([[len(ids)]], np.int32), "INT32"),
        tensor("request_output_len", np.asarray([[max_new]], np.int32), "INT32"),
        tensor("end_id", np.asarray([[EOS]], np.int32), "INT32"),
        tensor("streaming", np.asarray([[streaming]]), "BOOL"),
        tensor("exclude_input_in_output", np.asarray([[True]]), "BOOL"),
    ]
    for name, value in extra.items():
        kind = "UINT64" if name == "seed" else "INT32" if isinstance(value, int) else "FP32"
        dtype = {"UINT64": np.uint64, "INT32": np.int32, "FP32": np.float32}[kind]
        inputs.append(tensor(name, np.asarray([[value]], dtype), kind))
    if guide is not None:
        inputs.append(tensor("guided_decoding_guide_type", np.asarray([[guide.guide_type.encode()]], object), "BYTES"))
        inputs.append(tensor("guided_decoding_guide", np.asarray([[guide.guide.encode()]], object), "BYTES"))

    async def run() -> Answer:
        client = grpcclient.InferenceServerClient(url)
        answer = Answer([], 0, None)

        async def one():  # type: ignore[no-untyped-def]
            yield {"model_name": "tensorrt_llm", "inputs": inputs, "enable_empty_final_response": True}

        try:
            async for result, error in client.stream_infer(one()):
                if error is not None:
                    answer.error = str(error)
                    break
                response = result.get_response()
                if response.outputs:
                    answer.tokens += result.as_numpy("output_ids").reshape(-1).tolist()
                    answer.responses += 1
                if response.parameters["triton_final_response"].bool_param:
                    break
        finally:
            await client.close()
        return answer

    return asyncio.run(run())


def _valid(schema: dict[str, Any], text: str) -> Any:
    document = json.loads(text)
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(document)]
    assert not errors, (text, errors)
    return document


def _tool_calls(text: str) -> list[dict[str, Any]]:
    calls = []
    for part in text.split("<tool_call>\n")[1:]:
        body, _, _ = part.partition("\n</tool_call>")
        calls.append(json.loads(body))
    assert text.startswith("<tool_call>\n")
    assert text.endswith("\n</tool_call>")
    return calls


def _check_call(call: dict[str, Any]) -> None:
    tool = next(t["function"] for t in TOOLS if t["function"]["name"] == call["name"])
    _valid(tool["parameters"], json.dumps(call["arguments"]))


@pytest.mark.parametrize("streaming", [True, False])
def test_a_script_that_fits_the_schema_is_followed_exactly(
    guided_scripted: RunningTriton, tokenizer: Tokenizer, streaming: bool
) -> None:
    reply = (
        '{"name": "Zoë", "role": "admin", "tags": ["a", "世界"], '
        '"address": {"zip": "12345", "city": "Köln"}, "active": true}'
    )
    guide = GuidedDecoding("json_schema", json.dumps(PERSON))
    answer = ask(guided_scripted.server.grpc_url, _prompt(tokenizer, reply), 300, guide, streaming)
    assert answer.error is None
    assert tokenizer.decode(answer.tokens) == reply
    assert answer.responses == (len(answer.tokens) if streaming else 1)


@pytest.mark.parametrize("streaming", [True, False])
def test_off_script_output_still_matches_a_nested_schema_and_ends(
    guided_scripted: RunningTriton, tokenizer: Tokenizer, streaming: bool
) -> None:
    guide = GuidedDecoding("json_schema", json.dumps(PERSON))
    answer = ask(guided_scripted.server.grpc_url, _prompt(tokenizer, "Sure, here you go."), 300, guide, streaming)
    assert answer.error is None
    assert len(answer.tokens) < 300  # ended by the stop token, not the limit
    person = _valid(PERSON, tokenizer.decode(answer.tokens))
    assert person["role"] in {"admin", "user", "guest"}


def test_json_object_guide_gives_json(guided_scripted: RunningTriton, tokenizer: Tokenizer) -> None:
    answer = ask(
        guided_scripted.server.grpc_url, _prompt(tokenizer, "not json at all"), 100, GuidedDecoding("json", "")
    )
    assert answer.error is None
    assert isinstance(json.loads(tokenizer.decode(answer.tokens)), (dict, list))


def test_regex_guide(guided_scripted: RunningTriton, tokenizer: Tokenizer) -> None:
    answer = ask(
        guided_scripted.server.grpc_url, _prompt(tokenizer, "AB-12"), 50, GuidedDecoding("regex", "[A-Z]{2}-[0-9]{2,4}")
    )
    assert tokenizer.decode(answer.tokens) == "AB-12"


@pytest.mark.parametrize(
    "reply",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}\n</tool_call>',
        "I will not call anything.",
    ],
)
def test_forced_tool_call_guide_gives_a_valid_call(
    guided_scripted: RunningTriton, tokenizer: Tokenizer, reply: str
) -> None:
    guide = guided_decoding_for({"tools": TOOLS, "tool_choice": "required", "parallel_tool_calls": False})
    answer = ask(guided_scripted.server.grpc_url, _prompt(tokenizer, reply), 300, guide)
    assert answer.error is None
    text = tokenizer.decode(answer.tokens, skip_special_tokens=False)
    calls = _tool_calls(text)
    assert len(calls) == 1
    _check_call(calls[0])
    if reply.startswith("<tool_call>"):
        assert text == reply


def test_a_guide_type_tensorrt_llm_does_not_know_is_ignored_as_upstream_does(
    guided_scripted: RunningTriton, tokenizer: Tokenizer
) -> None:
    answer = ask(
        guided_scripted.server.grpc_url, _prompt(tokenizer, "free text"), 50, GuidedDecoding("structural_tag", "{}")
    )  # type: ignore[arg-type]
    assert tokenizer.decode(answer.tokens) == "free text"


def test_a_guided_request_to_a_model_without_guided_decoding_fails_clearly(
    unguided_scripted: RunningTriton, tokenizer: Tokenizer
) -> None:
    answer = ask(unguided_scripted.server.grpc_url, _prompt(tokenizer, "x"), 20, GuidedDecoding("json", ""))
    assert answer.error is not None
    assert "guided decoding is off for this model" in answer.error


@pytest.mark.parametrize("sampling", [{"runtime_top_k": 1}, {"temperature": 1.0, "seed": 7}])
def test_a_random_model_constrained_by_a_schema_gives_valid_json_that_ends(
    guided_hf: RunningTriton, tokenizer: Tokenizer, sampling: dict[str, Any]
) -> None:
    # The schema as xgrammar's grammar with compact whitespace: with TensorRT-LLM's json_schema default (any
    # whitespace) a random model spends every token on whitespace, a valid but endless answer.
    compact = xgrammar.Grammar.from_json_schema(json.dumps(SMALL), any_whitespace=False)
    guide = GuidedDecoding("ebnf_grammar", str(compact))
    answer = ask(guided_hf.server.grpc_url, _prompt(tokenizer, None), 200, guide, **sampling)
    assert answer.error is None
    assert len(answer.tokens) < 200
    _valid(SMALL, tokenizer.decode(answer.tokens))


def test_a_random_model_forced_to_call_a_tool_calls_it_validly(guided_hf: RunningTriton, tokenizer: Tokenizer) -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    guide = guided_decoding_for({"tools": TOOLS, "tool_choice": choice})
    answer = ask(guided_hf.server.grpc_url, _prompt(tokenizer, None), 200, guide, runtime_top_k=1)
    assert answer.error is None
    calls = _tool_calls(tokenizer.decode(answer.tokens, skip_special_tokens=False))
    assert [call["name"] for call in calls] == ["get_weather"]
    _check_call(calls[0])
