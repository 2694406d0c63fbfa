"""Evaluate the flake through the recording stand-in nixpkgs (tests/nix/standin-nixpkgs) with Debian's Nix 2.8:
``outputs(expr)`` evaluates a Nix expression over the flake's outputs (``self``), in this checkout or in a copy
with other pins. The stand-in records each builder's arguments under ``standin.args``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tests" / "nix" / "standin-nixpkgs"
NIX_ENV = {
    **os.environ,
    "NIX_CONFIG": "build-users-group =\nexperimental-features = nix-command flakes\nsubstituters =",
}

# Fake pins of the right shape: a 40-hex commit, SRI hashes, an OCI digest.
PINS = {
    "revision": "0123456789abcdef0123456789abcdef01234567",
    "weights_hash": "sha256-Vu2hcl3qLOtoRk6ZZIJgoT30Zd2i4P1U7YAZLSYGUQ4=",
    "tokenizer_hash": "sha256-8rNo6mU1VyaK0ZWxmjF+ASpiyDQMRKMiCiRlT6EqRso=",
    "image_digest": "sha256:" + "ab" * 32,
    "config_hash": "sha256-3Uu1y+zAhtEGpKs9kdOwbwJdprhh5GqBs9TCfzK5gW0=",
}


def checkout(dest: Path, *, pinned: bool, runtime_hash: bool = True, config_hash: bool = False) -> Path:
    """A copy of the files the flake reads, with every pin filled (pinned) or the catalog as committed."""
    for name in ("flake.nix", "flake.lock"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "nix", dest / "nix")
    (dest / "python" / "trtllm_nix").mkdir(parents=True)
    shutil.copy(REPO / "python" / "pyproject.toml", dest / "python" / "pyproject.toml")
    shutil.copytree(REPO / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    catalog = json.loads((REPO / "python" / "trtllm_nix" / "catalog.json").read_text())
    if pinned:
        model = catalog["models"]["qwen3-32b"]
        for key in ("revision", "weights_hash", "tokenizer_hash"):
            model[key] = PINS[key]
        catalog["runtime"]["image_digest"] = PINS["image_digest"]
    if not runtime_hash:
        catalog["runtime"]["systems"]["x86_64-linux"]["output_hash"] = None
    if config_hash:
        catalog["runtime"]["systems"]["x86_64-linux"]["config_hash"] = PINS["config_hash"]
    (dest / "python" / "trtllm_nix" / "catalog.json").write_text(json.dumps(catalog, indent=2))
    return dest


def run_nix(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=NIX_ENV, capture_output=True, text=True, timeout=300)


def outputs(expression: str, root: Path = REPO) -> Any:
    """``expression`` with ``self`` bound to the flake's outputs, strictly evaluated to JSON."""
    harness = REPO / "tests" / "nix" / "flake-outputs.nix"
    program = f"let self = import {harness} {{ root = {root}; }}; in {expression}"
    result = run_nix(["nix-instantiate", "--eval", "--strict", "--json", "-E", program])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def package(name: str) -> str:
    return f'self.packages."x86_64-linux".{name}'
