"""Build the generated assets once into a cache folder; a second run with the same inputs does nothing."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from trtllm_nix.assets import qwen_tokenizer, tiny_model
from trtllm_nix.staging import staged_folder

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


def default_cache_dir() -> Path:
    """``$TRTLLM_NIX_CACHE``, else ``.cache/trtllm-nix`` under the current directory."""
    configured = os.environ.get("TRTLLM_NIX_CACHE")
    return Path(configured) if configured else Path.cwd() / ".cache" / "trtllm-nix"


def _fingerprint() -> dict[str, object]:
    """Everything the output depends on: our builder sources, the template and the library versions."""
    sources = hashlib.sha256()
    for module in (qwen_tokenizer, tiny_model):
        sources.update(Path(str(module.__file__)).read_bytes())
    sources.update(qwen_tokenizer.chat_template().encode())
    versions = {name: metadata.version(name) for name in ("transformers", "tokenizers", "torch", "qwen-tokenizer")}
    return {"format": ASSETS_FORMAT, "sources": sources.hexdigest(), "versions": versions}


def ensure_assets(cache_dir: Path | None = None) -> Assets:
    """Return the assets, building them first when missing or stale. Writes go to a temp folder, then rename."""
    root = (cache_dir or default_cache_dir()) / "assets"
    assets = Assets(root)
    wanted = _fingerprint()
    if assets.stamp.exists() and json.loads(assets.stamp.read_text("utf-8")) == wanted:
        return assets
    with staged_folder(root) as staging:
        built = Assets(staging)
        qwen_tokenizer.build_qwen3_tokenizer(built.tokenizer)
        tiny_model.build_tiny_qwen3(built.tiny_model, built.tokenizer)
        built.stamp.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", "utf-8")
    return assets
