"""The generator: typed configs that parse back, engine-driven defaults, a deterministic tree, golden files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trtllm_nix
from trtllm_nix.engine.engine_config import read_engine
from trtllm_nix.repo.generate import (
    RepositorySpec,
    build_models,
    parse_config,
    read_manifest,
    render_config,
    render_tree,
    write_repository,
)
from trtllm_nix.repo.tensorrt_llm_model import TensorrtLlmOptions
from trtllm_nix_testkit.assets.build import Assets

from tests.repo.engines import engine_config, make_engine

GOLDEN = Path(__file__).parent / "golden"
VARIANTS = {
    "tp1": {"tp": 1, "max_batch_size": 8, "max_seq_len": 16384},
    "tp4": {"tp": 4, "max_batch_size": 32, "max_seq_len": 32768},
}


def _spec(tmp_path: Path, assets: Assets, variant: str) -> RepositorySpec:
    engine = read_engine(make_engine(tmp_path / variant, engine_config(**VARIANTS[variant])))  # type: ignore[arg-type]
    return RepositorySpec(
        engine=engine, engine_path=f"/engines/qwen3-32b-nvfp4-{variant}", tokenizer_path=assets.tokenizer
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tree_matches_golden_files(tmp_path: Path, assets: Assets, variant: str) -> None:
    tree = render_tree(_spec(tmp_path, assets, variant))
    sources = str(Path(trtllm_nix.__file__).resolve().parent.parent)  # model.py points at our sources
    normalized = {
        name: text.replace(str(assets.tokenizer), "@TOKENIZER@").replace(sources, "@SOURCES@")
        for name, text in tree.items()
    }
    manifest = json.loads(normalized["manifest.json"])
    manifest["tokenizer"]["tokenizer_json_sha256"] = "@SHA256@"  # of the generated tokenizer.json
    for model in manifest["models"].values():  # hashes of texts that hold the (checkout-specific) tokenizer path
        model["config_sha256"] = "@SHA256@"
    normalized["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    folder = GOLDEN / variant
    if os.environ.get("TRTLLM_NIX_UPDATE_GOLDEN") == "1":
        for name, text in normalized.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    expected = {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}
    assert normalized == expected


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_config_parses_back_into_its_message(tmp_path: Path, assets: Assets, variant: str) -> None:
    for name, (config, _) in build_models(_spec(tmp_path, assets, variant)).items():
        assert config.name == name
        assert parse_config(render_config(config)) == config


def test_defaults_follow_the_engine(tmp_path: Path, assets: Assets) -> None:
    spec = _spec(tmp_path, assets, "tp4")
    models = build_models(spec)
    assert {name: config.max_batch_size for name, (config, _) in models.items()} == dict.fromkeys(models, 32)
    generator = models["tensorrt_llm"][0]
    assert generator.backend == "tensorrtllm"
    assert generator.model_transaction_policy.decoupled
    params = {key: value.string_value for key, value in generator.parameters.items()}
    assert params["gpt_model_path"] == "/engines/qwen3-32b-nvfp4-tp4"
    assert params["gpt_model_type"] == "inflight_fused_batching"
    assert params["exclude_input_in_output"] == "true"
    assert params["kv_cache_free_gpu_mem_fraction"] == "0.9"
    assert params["batch_scheduler_policy"] == "guaranteed_no_evict"
    ensemble = models["ensemble"][0]
    assert ensemble.parameters["max_seq_len"].string_value == "32768"
    manifest = read_manifest(write_repository(spec, tmp_path / "out"))
    assert manifest["world_size"] == 4
    assert manifest["engine"]["quant_algo"] == "NVFP4"
    assert (manifest["tokenizer"]["end_id"], manifest["tokenizer"]["pad_id"]) == (151645, 151643)
    assert manifest["tokenizer"]["end_token_ids"] == [151645, 151643]


def test_options_reach_the_config(tmp_path: Path, assets: Assets) -> None:
    options = TensorrtLlmOptions(
        kv_cache_free_gpu_mem_fraction=0.5,
        enable_chunked_context=True,
        batch_scheduler_policy="max_utilization",
        decoding_mode="top_k_top_p",
        max_tokens_in_paged_kv_cache=65536,
    )
    spec = RepositorySpec(**{**_spec(tmp_path, assets, "tp1").__dict__, "options": options, "max_batch_size": 4})
    config = build_models(spec)["tensorrt_llm"][0]
    params = {key: value.string_value for key, value in config.parameters.items()}
    assert config.max_batch_size == 4
    assert (params["kv_cache_free_gpu_mem_fraction"], params["enable_chunked_context"]) == ("0.5", "true")
    assert (params["batch_scheduler_policy"], params["decoding_mode"]) == ("max_utilization", "top_k_top_p")
    assert params["max_tokens_in_paged_kv_cache"] == "65536"


def test_same_inputs_give_a_byte_identical_tree(tmp_path: Path, assets: Assets) -> None:
    spec = _spec(tmp_path, assets, "tp4")
    first = write_repository(spec, tmp_path / "a")
    second = write_repository(spec, tmp_path / "b")

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert tree(first) == tree(second)
    assert sorted(str(p.relative_to(first)) for p in first.iterdir()) == [
        "ensemble",
        "manifest.json",
        "postprocessing",
        "preprocessing",
        "tensorrt_llm",
    ]
