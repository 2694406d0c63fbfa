"""The engine builder on real ModelOpt 0.47 exports of SmolLM2-135M-Instruct (NVFP4 and FP8) and the bf16 model:
the metadata it reads, the QuantConfig it hands the seam, the engine it checks, and what it refuses (one line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from trtllm_nix.engine.build import BuildRequest, build_engine, checkpoint_dtype
from trtllm_nix.engine.check import check_engine
from trtllm_nix.engine.quant import QuantSpec, read_quant_spec
from trtllm_nix.engine.sizes import Architecture, expected_rank_bytes
from trtllm_nix.engine.weights import check_consistent, summarize
from trtllm_nix.errors import UserError
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.conftest import calls
from tests.engine.test_build import B200, LIMITS

EXCLUDED = ("lm_head", "model.embed_tokens")  # what ModelOpt 0.47 leaves unquantized in this export


def _linked_copy(source: Path, dest: Path, skip: tuple[str, ...] = ()) -> Path:
    """The checkpoint's small files copied (to edit), its weights linked (no 100 MB copies)."""
    dest.mkdir(parents=True)
    for item in source.iterdir():
        if item.name in skip:
            continue
        if item.suffix == ".safetensors":
            (dest / item.name).symlink_to(item)
        else:
            shutil.copyfile(item, dest / item.name)
    return dest


@pytest.mark.parametrize("quant", ["NVFP4", "FP8"])
def test_the_exports_metadata_in_both_places_gives_the_exported_quant_config(
    assets: Assets, tmp_path: Path, quant: str
) -> None:
    export = assets.real.export(quant)
    group = 16 if quant == "NVFP4" else None
    legacy = read_quant_spec(export)
    assert legacy == QuantSpec(quant, None, group, EXCLUDED, "hf_quant_config.json")
    inline = read_quant_spec(_linked_copy(export, tmp_path / "inline", skip=("hf_quant_config.json",)))
    assert inline == QuantSpec(quant, None, group, EXCLUDED, "config.json quantization_config")
    check_consistent(legacy.algo, summarize(export), legacy.source)  # the U8 / F8_E4M3 tensors agree
    expected = {"quant_algo": quant, "kv_cache_quant_algo": None, "exclude_modules": list(EXCLUDED)}
    assert legacy.as_quant_config() == ({**expected, "group_size": 16} if group else expected)


def test_the_bf16_model_is_unquantized_and_its_transformers5_dtype_is_read(assets: Assets) -> None:
    assert read_quant_spec(assets.real.smollm2).algo is None
    config = json.loads((assets.real.smollm2 / "config.json").read_text())
    assert "torch_dtype" not in config  # transformers 5 writes "dtype"
    assert checkpoint_dtype(config) == "bfloat16"


@pytest.mark.parametrize("quant", ["NVFP4", "FP8"])
def test_builds_the_export_end_to_end(assets: Assets, tmp_path: Path, seam_record: Path, quant: str) -> None:
    export = assets.real.export(quant)
    request = BuildRequest(model=str(export), out=tmp_path / "engine", tp=1, limits=LIMITS, quant=quant)
    out = build_engine(request, inventory=B200)
    (convert,) = (c for c in calls(seam_record) if c["call"] == "convert_rank")
    assert convert["quant"] == read_quant_spec(export).as_quant_config()
    info = json.loads((out / "build-info.json").read_text())
    assert (info["architecture"], info["quant"]["quant_algo"], info["quant"]["exclude_modules"]) == (
        "LlamaForCausalLM",
        quant,
        list(EXCLUDED),
    )
    assert sorted(p.name for p in (out / "tokenizer").iterdir()) == [
        "chat_template.jinja",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert all(f.ok for f in check_engine(out)), [f.line() for f in check_engine(out)]
    # An engine of the 16-bit size (the quantization was not applied) fails the size check and says why.
    config = json.loads((out / "config.json").read_text())["pretrained_config"]
    with (out / "rank0.engine").open("r+b") as handle:
        handle.truncate(int(expected_rank_bytes(Architecture.from_hf_config(config), None, 1)))
    (size,) = (f for f in check_engine(out) if f.check == "engine size")
    assert not size.ok
    assert "BF16-sized: quantization was not applied" in size.detail


@pytest.mark.parametrize(
    ("model", "asked", "message"),
    [
        ("nvfp4", "FP8", r"--quant FP8: .+ is an NVFP4 checkpoint \(hf_quant_config.json\); .+ pass --quant NVFP4"),
        ("smollm2", "NVFP4", r"--quant NVFP4: .+ is not quantized \(16-bit weights\); .+ quantize it with ModelOpt"),
        ("fp8", "BF16", r"--quant BF16: .+ is an FP8 checkpoint"),
    ],
)
def test_asking_for_another_quantization_is_refused_before_building(
    assets: Assets, tmp_path: Path, seam_record: Path, model: str, asked: str, message: str
) -> None:
    folder = getattr(assets.real, model)
    request = BuildRequest(model=str(folder), out=tmp_path / "engine", tp=1, limits=LIMITS, quant=asked)
    with pytest.raises(UserError, match=message) as refused:
        build_engine(request, inventory=B200)
    assert "\n" not in refused.value.message
    assert calls(seam_record) == []
    assert not request.out.exists()


def test_another_models_tokenizer_files_are_refused(assets: Assets, tmp_path: Path, seam_record: Path) -> None:
    folder = _linked_copy(assets.real.nvfp4, tmp_path / "ckpt")
    shutil.copyfile(assets.tokenizer / "tokenizer.json", folder / "tokenizer.json")  # the tiny Qwen3's
    request = BuildRequest(model=str(folder), out=tmp_path / "engine", tp=1, limits=LIMITS)
    with pytest.raises(UserError, match=r"eos_token_id 2 is not a special token of .+ another model's tokenizer"):
        build_engine(request, inventory=B200)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"has no tokenizer.json or tokenizer.model"):
        build_engine(request, inventory=B200)
    assert calls(seam_record) == []


def test_metadata_that_disagrees_with_the_real_tensors_is_refused(assets: Assets, tmp_path: Path) -> None:
    folder = _linked_copy(assets.real.smollm2, tmp_path / "bf16-said-nvfp4")
    shutil.copyfile(assets.real.nvfp4 / "hf_quant_config.json", folder / "hf_quant_config.json")
    request = BuildRequest(model=str(folder), out=tmp_path / "engine", tp=1, limits=LIMITS)
    with pytest.raises(UserError, match=r"says NVFP4, but the projection weights are 16-bit"):
        build_engine(request, inventory=B200)
