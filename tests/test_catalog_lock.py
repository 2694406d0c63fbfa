"""``trtllm-nix catalog lock`` against a Hub-compatible server: it pins the commit the branch points at and records
the NAR hashes Nix computes for exactly the files the Nix downloads fetch; nothing else in catalog.json moves."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from trtllm_nix.catalog_lock import run_lock
from trtllm_nix.cli import build_parser
from trtllm_nix.errors import UserError
from trtllm_nix.triton.ports import free_ports

from tests.engine.fake_hub import FakeHub, HubState

REPO = Path(__file__).resolve().parents[1]
COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
FILES = {
    "config.json": b'{"architectures": ["Qwen3ForCausalLM"]}',
    "hf_quant_config.json": b'{"quantization": {"quant_algo": "NVFP4"}}',
    "model-00001-of-00002.safetensors": b"\x01" * 1001,
    "model-00002-of-00002.safetensors": b"\x02" * 77,
    "model.safetensors.index.json": b'{"weight_map": {}}',
    "tokenizer.json": b'{"model": {}}',
    "tokenizer_config.json": b'{"chat_template": "x"}',
    "generation_config.json": b"{}",
    "README.md": b"not fetched",
    "original/consolidated.pth": b"not fetched either",
}
TOKENIZER = {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}
WEIGHTS = TOKENIZER | {
    "config.json",
    "hf_quant_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    server = FakeHub(HubState(files=dict(FILES), commit=COMMIT), free_ports(1)[0])
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", server.url)
    monkeypatch.setattr(
        "huggingface_hub.constants.HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return server


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.json"
    path.write_bytes((REPO / "python" / "trtllm_nix" / "catalog.json").read_bytes())
    return path


def nix_hash_of(files: set[str], folder: Path) -> str:
    """What Nix records for an $out holding exactly these files (Debian's nix-hash, not our NAR code)."""
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(FILES[name])
    result = subprocess.run(
        ["nix-hash", "--type", "sha256", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NIX_CONFIG": "build-users-group ="},
    )
    return "sha256-" + base64.b64encode(bytes.fromhex(result.stdout.strip())).decode()


def lock(catalog: Path, *extra: str) -> int:
    args = build_parser().parse_args(["catalog", "lock", "qwen3-32b", "--catalog", str(catalog), *extra])
    return run_lock(args)


def test_lock_pins_the_branch_commit_and_the_hashes_nix_checks(
    hub: FakeHub, catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = json.loads(catalog.read_text())
    with hub:
        assert lock(catalog) == 0
    after = json.loads(catalog.read_text())
    entry = after["models"]["qwen3-32b"]
    assert entry["revision"] == COMMIT
    assert entry["tokenizer_hash"] == nix_hash_of(TOKENIZER, tmp_path / "tok")
    assert entry["weights_hash"] == nix_hash_of(WEIGHTS, tmp_path / "weights")
    assert "README.md" not in hub.state.gets
    assert "original/consolidated.pth" not in hub.state.gets
    for key in ("revision", "tokenizer_hash", "weights_hash"):
        before["models"]["qwen3-32b"][key] = entry[key]
    assert after == before
    assert list(after) == list(before)
    assert list(entry) == list(before["models"]["qwen3-32b"]), "no key moved"
    assert f"revision {COMMIT}" in capsys.readouterr().out


def test_tokenizer_only_leaves_the_weights_unpinned(hub: FakeHub, catalog: Path) -> None:
    with hub:
        lock(catalog, "--tokenizer-only")
    entry = json.loads(catalog.read_text())["models"]["qwen3-32b"]
    assert entry["revision"] == COMMIT
    assert entry["weights_hash"] is None
    assert "model-00001-of-00002.safetensors" not in hub.state.gets


def test_mistakes_are_one_line(tmp_path: Path, catalog: Path) -> None:
    with pytest.raises(UserError, match="no catalog at"):
        run_lock(build_parser().parse_args(["catalog", "lock", "qwen3-32b", "--catalog", str(tmp_path / "x")]))
    with pytest.raises(UserError, match="no catalog model 'nope'; known: qwen3-32b"):
        run_lock(build_parser().parse_args(["catalog", "lock", "nope", "--catalog", str(catalog)]))
