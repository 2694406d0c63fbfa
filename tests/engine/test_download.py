"""Downloads from a Hub-compatible server on loopback: only the files a build needs, pinned to a commit, and a
download cut off mid-file resumes from where it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from trtllm_nix.engine.download import BUILD_PATTERNS, TOKENIZER_PATTERNS, resolve_model
from trtllm_nix.errors import UserError
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.checkpoints import make_checkpoint
from tests.engine.fake_hub import FakeHub, HubState, checkpoint_files

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub(tmp_path: Path, assets: Assets, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    files = checkpoint_files(make_checkpoint(tmp_path / "source", "NVFP4", tokenizer=assets.tokenizer))
    files["README.md"] = b"not needed for a build"
    files["original/consolidated.pth"] = b"x" * 1000
    state = HubState(files=files, commit=COMMIT)
    server = FakeHub(state, free_ports(1)[0])
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    # huggingface_hub reads HF_ENDPOINT once, when first imported (transformers imported it earlier here)
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", server.url)
    monkeypatch.setattr(
        "huggingface_hub.constants.HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return server


def test_only_build_files_at_the_pinned_commit(hub: FakeHub, tmp_path: Path) -> None:
    with hub:
        folder = resolve_model("nvidia/Tiny-NVFP4", COMMIT, BUILD_PATTERNS, tmp_path / "cache")
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [
            "config.json",
            "hf_quant_config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "generation_config.json",
        ]
    )
    assert (folder / "model.safetensors").read_bytes() == hub.state.files["model.safetensors"]
    assert COMMIT in str(folder)


def test_tokenizer_only_download_skips_the_weights(hub: FakeHub, tmp_path: Path) -> None:
    with hub:
        folder = resolve_model("nvidia/Tiny-NVFP4", COMMIT, TOKENIZER_PATTERNS, tmp_path / "cache")
    assert "model.safetensors" not in {p.name for p in folder.iterdir()}
    assert "model.safetensors" not in hub.state.gets


def test_interrupted_download_recovers_by_itself(hub: FakeHub, tmp_path: Path) -> None:
    """A connection that closes mid-file is retried by huggingface_hub within the same call; the result is exact.
    (Against this server it fetched the file again from the start: a byte-range resume is not shown here.)"""
    weights = hub.state.files["model.safetensors"]
    hub.state.cut_first_download_of = "model.safetensors"
    hub.state.cut_after = len(weights) // 2
    with hub:
        folder = resolve_model("nvidia/Tiny-NVFP4", COMMIT, BUILD_PATTERNS, tmp_path / "cache")
    assert (folder / "model.safetensors").read_bytes() == weights
    assert hub.state.gets.count("model.safetensors") >= 2, "the first transfer was cut and retried"
    assert not list((tmp_path / "cache").rglob("*.incomplete")), "no partial file is left in the cache"


def test_branches_are_refused_as_revisions(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="pin a commit, not a branch"):
        resolve_model("nvidia/Qwen3-32B-NVFP4", "main", BUILD_PATTERNS, tmp_path)
