"""ModelOpt metadata in both shapes, cross-checked against the tensors; unsupported input is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trtllm_nix.engine.quant import QuantSpec, read_quant_spec
from trtllm_nix.engine.weights import check_consistent, summarize
from trtllm_nix.errors import UserError

from tests.engine.checkpoints import make_checkpoint


@pytest.mark.parametrize("shape", ["legacy", "inline", "flat"])
def test_nvfp4_in_every_shape(tmp_path: Path, shape: str) -> None:
    spec = read_quant_spec(make_checkpoint(tmp_path, "NVFP4", shape))  # type: ignore[arg-type]
    assert (spec.algo, spec.kv_cache_algo, spec.group_size, spec.exclude_modules) == ("NVFP4", "FP8", 16, ("lm_head",))
    assert spec.as_quant_config() == {
        "quant_algo": "NVFP4",
        "kv_cache_quant_algo": "FP8",
        "group_size": 16,
        "exclude_modules": ["lm_head"],
    }


@pytest.mark.parametrize("shape", ["legacy", "inline", "flat"])
def test_fp8_in_every_shape(tmp_path: Path, shape: str) -> None:
    spec = read_quant_spec(make_checkpoint(tmp_path, "FP8", shape))  # type: ignore[arg-type]
    assert (spec.algo, spec.kv_cache_algo) == ("FP8", "FP8")


def test_tensors_tell_the_same_story(tmp_path: Path) -> None:
    for quant in ("NVFP4", "FP8", "BF16"):
        folder = make_checkpoint(tmp_path / quant, quant)  # type: ignore[arg-type]
        summary = summarize(folder)
        assert summary.looks_like == (None if quant == "BF16" else quant)
        check_consistent(read_quant_spec(folder).algo, summary, "metadata")


def test_metadata_that_lies_about_the_tensors_is_refused(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path, "BF16", "legacy", metadata_quant="NVFP4")
    with pytest.raises(UserError, match=r"says NVFP4, but the projection weights are 16-bit"):
        check_consistent(read_quant_spec(folder).algo, summarize(folder), "hf_quant_config.json")


def test_unquantized_checkpoint(tmp_path: Path) -> None:
    assert read_quant_spec(make_checkpoint(tmp_path, "BF16")) == QuantSpec(
        algo=None, source="config.json (no quantization_config)"
    )


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"quantization": {"quant_algo": "W4A16_AWQ"}}, "quant_algo W4A16_AWQ is not supported; supported: NVFP4, FP8"),
        ({"quantization": {"quant_algo": "NVFP4", "group_size": 32}}, "NVFP4 needs group_size 16"),
        ({"quantization": {}}, "no quant_algo; supported: NVFP4, FP8"),
    ],
)
def test_unsupported_metadata(tmp_path: Path, metadata: dict[str, object], message: str) -> None:
    make_checkpoint(tmp_path, "NVFP4")
    (tmp_path / "hf_quant_config.json").write_text(json.dumps(metadata))
    with pytest.raises(UserError, match=message):
        read_quant_spec(tmp_path)


def test_non_modelopt_quant_method(tmp_path: Path) -> None:
    make_checkpoint(tmp_path, "BF16")
    config = json.loads((tmp_path / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "awq", "bits": 4}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="quant_method 'awq' is not ModelOpt"):
        read_quant_spec(tmp_path)
