"""The generated ``tensorrt_llm`` config against the pinned upstream's template and C++ backend (facts file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tritonclient.grpc import model_config_pb2 as pb
from trtllm_nix.engine.engine_config import read_engine
from trtllm_nix.repo.generate import (
    RepositorySpec,
    build_models,
    parse_config,
    read_manifest,
    render_config,
    write_repository,
)
from trtllm_nix.repo.tensorrt_llm_model import TensorrtLlmOptions
from trtllm_nix_testkit.assets.build import Assets

from tests.repo.engines import engine_config, make_engine
from tests.upstream import facts

TEMPLATE = facts()["triton_model"]
BACKEND = facts()["cpp_backend"]
ENGINES = [(tp, quant) for tp in (1, 2, 4) for quant in ("NVFP4", "FP8", None)]
# Written only for disaggregated serving, when a request carries the context_phase_params input we do not declare.
NOT_WRITTEN = {"context_phase_params"}
LOGITS_DTYPE = "TYPE_FP32"  # trtllm-build gets no --logits_dtype, so the checkpoint's float32 stands


def _generated(tmp_path: Path, assets: Assets, tp: int, quant: str | None, **options: Any) -> pb.ModelConfig:
    folder = make_engine(tmp_path / "engine", engine_config(tp=tp, quant_algo=quant))
    spec = RepositorySpec(
        engine=read_engine(folder),
        engine_path=str(folder),
        tokenizer_path=assets.tokenizer,
        options=TensorrtLlmOptions(**options),
    )
    return parse_config(render_config(build_models(spec)["tensorrt_llm"][0]))


def _type(value: int) -> str:
    return pb.DataType.Name(value)


def _upstream(section: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in TEMPLATE[section]}


@pytest.fixture(scope="module", params=ENGINES, ids=[f"tp{tp}-{quant or 'BF16'}" for tp, quant in ENGINES])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, assets: Assets
) -> pb.ModelConfig:
    tp, quant = request.param
    return _generated(tmp_path_factory.mktemp("engine"), assets, tp, quant)


def test_every_parameter_the_backend_reads_without_default_is_set(generated: pb.ModelConfig) -> None:
    missing = set(BACKEND["parameters_without_default"]) - set(generated.parameters)
    assert not missing, f"the real backend fails to load: Cannot find parameter with name: {sorted(missing)}"


def test_no_parameter_is_invented_for_the_real_backend(generated: pb.ModelConfig) -> None:
    assert generated.backend == "tensorrtllm"
    assert set(generated.parameters) <= set(TEMPLATE["parameters"])


def test_guided_decoding_is_off_by_default(generated: pb.ModelConfig) -> None:
    params = {key: value.string_value for key, value in generated.parameters.items()}
    assert params["guided_decoding_backend"] == ""  # empty: the backend returns no GuidedDecodingConfig
    assert params["xgrammar_tokenizer_info_path"] == ""


def test_batching_strategy_is_one_the_backend_parses_and_not_deprecated(generated: pb.ModelConfig) -> None:
    value = generated.parameters["gpt_model_type"].string_value
    assert value in BACKEND["gpt_model_type_values"]
    assert value not in BACKEND["deprecated_gpt_model_type"]
    assert generated.parameters["batch_scheduler_policy"].string_value in BACKEND["batch_scheduler_policy_values"]


def test_every_output_the_backend_may_write_is_declared_as_upstream(generated: pb.ModelConfig) -> None:
    ours = {o.name: o for o in generated.output}
    upstream = _upstream("outputs")
    assert set(ours) == set(upstream) - NOT_WRITTEN
    assert set(TEMPLATE["perf_metric_outputs"]) <= set(ours)  # a client setting return_perf_metrics gets answers
    for name, output in ours.items():
        want = upstream[name]["data_type"].replace("${logits_datatype}", LOGITS_DTYPE)
        assert (name, _type(output.data_type), list(output.dims)) == (name, want, upstream[name]["dims"])


def test_every_input_is_declared_as_upstream(generated: pb.ModelConfig) -> None:
    upstream = _upstream("inputs")
    for tensor in generated.input:
        want = upstream[tensor.name]
        reshape = list(tensor.reshape.shape) if tensor.HasField("reshape") else None
        got = (_type(tensor.data_type), list(tensor.dims), tensor.optional, tensor.allow_ragged_batch, reshape)
        expected = (want["data_type"], want["dims"], want["optional"], want["allow_ragged_batch"], want["reshape"])
        assert (tensor.name, got) == (tensor.name, expected)


def test_chunked_context_follows_the_engine_and_the_limits_come_from_it(tmp_path: Path, assets: Assets) -> None:
    folder = make_engine(tmp_path / "engine", engine_config(max_seq_len=16384, max_num_tokens=8192))
    spec = RepositorySpec(engine=read_engine(folder), engine_path=str(folder), tokenizer_path=assets.tokenizer)
    manifest = read_manifest(write_repository(spec, tmp_path / "repo"))
    assert manifest["options"]["enable_chunked_context"] is True  # paged context FMHA: prompts may exceed 8192
    assert manifest["limits"] == {"max_seq_len": 16384, "max_input_len": 16383, "max_num_tokens": 8192}
    off = RepositorySpec(**{**spec.__dict__, "options": TensorrtLlmOptions(enable_chunked_context=False)})
    manifest = read_manifest(write_repository(off, tmp_path / "off"))
    assert manifest["limits"]["max_input_len"] == 8192  # one context step: the proxy must refuse longer prompts
