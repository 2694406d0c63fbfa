"""The NAR hash `trtllm-nix catalog lock` records equals the one Nix computes (Debian's nix-hash)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from trtllm_nix.nar import nar_hash_sri


def nix_hash(path: Path) -> str:
    result = subprocess.run(
        ["nix-hash", "--type", "sha256", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NIX_CONFIG": "build-users-group ="},
    )
    return "sha256-" + base64.b64encode(bytes.fromhex(result.stdout.strip())).decode()


def test_a_model_folder_hashes_as_nix_hashes_it(tmp_path: Path) -> None:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"a": 1}')
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 37)  # not a multiple of 8
    (root / "sub" / "empty").write_bytes(b"")
    (root / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (root / "sub" / "run.sh").chmod(0o755)
    (root / "link").symlink_to("config.json")
    (root / "B-upper-sorts-first").write_text("x")
    assert nar_hash_sri(root) == nix_hash(root)


def test_a_single_file_and_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_bytes(b"12345678")
    for path in (tmp_path / "empty", tmp_path / "file"):
        assert nar_hash_sri(path) == nix_hash(path)
