"""Nix, as far as it runs here (Debian's nix-bin, no nixpkgs): every file parses, and what needs no nixpkgs
evaluates to exactly what Python reads from the same catalog."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from trtllm_nix.catalog import catalog, ports, variant

REPO = Path(__file__).resolve().parents[2]
NIX_FILES = sorted(
    str(p.relative_to(REPO)) for p in REPO.rglob("*.nix") if ".venv" not in p.parts and ".cache" not in p.parts
)
HELPERS = ["lower", "engineName", "engineNameFor", "variantSuffix"]


def engine_name(model: str, variant_name: str, gpu_arch: str | None = None) -> str:
    """The engine derivation's name, as nix/catalog.nix should compute it; the architecture is the one the derivation
    asks the build for (``--gpu-arch``), by default the catalog entry's."""
    entry = catalog()["models"][model]
    values = entry["variants"][variant_name]
    pp = "" if values["pp"] == 1 else f"-pp{values['pp']}"
    return (
        f"{model}-{entry['quant'].lower()}-tp{values['tp']}{pp}-{gpu_arch or entry['gpu_arch']}"
        f"-trtllm{catalog()['runtime']['tensorrt_llm']}"
    )


def nix_eval(expression: str) -> Any:
    result = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "-E", expression],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_there_are_nix_files() -> None:
    assert {"flake.nix", "nix/module.nix", "nix/catalog.nix", "nix/lib/default.nix"} <= set(NIX_FILES)


@pytest.mark.parametrize("path", NIX_FILES)
def test_parses(path: str) -> None:
    result = subprocess.run(["nix-instantiate", "--parse", path], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_nix_and_python_read_the_same_catalog() -> None:
    helpers = " ".join(f'"{name}"' for name in HELPERS)
    assert nix_eval(f"builtins.removeAttrs (import ./nix/catalog.nix) [ {helpers} ]") == catalog()
    assert (
        nix_eval("(import ./nix/catalog.nix).ports")
        == ports()
        == {"triton_http": 8000, "triton_grpc": 8001, "triton_metrics": 8002, "proxy": 9000, "trtllm_serve_grpc": 50051}
    )


def test_seed_variants() -> None:
    limits = {
        name: (v.tp, v.limits.max_batch_size, v.limits.max_seq_len, v.limits.max_num_tokens)
        for name in ("tp1", "tp2", "tp4")
        for v in [variant(f"qwen3-32b/{name}")]
    }
    assert limits == {"tp1": (1, 8, 16384, 8192), "tp2": (2, 16, 24576, 12288), "tp4": (4, 32, 32768, 16384)}


def test_engine_names_agree_and_carry_model_quant_tp_arch_and_version() -> None:
    names = nix_eval('let c = import ./nix/catalog.nix; in map (c.engineName "qwen3-32b") [ "tp1" "tp2" "tp4" ]')
    assert names == [engine_name("qwen3-32b", v) for v in ("tp1", "tp2", "tp4")]
    assert names[2] == "qwen3-32b-nvfp4-tp4-sm100-trtllm1.1.0"
    spark = nix_eval('(import ./nix/catalog.nix).engineNameFor "qwen3-32b" "tp1" "sm121"')
    assert spark == engine_name("qwen3-32b", "tp1", "sm121") == "qwen3-32b-nvfp4-tp1-sm121-trtllm1.1.0"
    assert nix_eval('map (import ./nix/catalog.nix).variantSuffix [ "tp1" "tp4" ]') == ["", "-tp4"]


def test_version_comes_from_pyproject() -> None:
    version = nix_eval("(builtins.fromTOML (builtins.readFile ./python/pyproject.toml)).project.version")
    assert version == metadata.version("trtllm-nix")


def test_flake_shape_and_lock() -> None:
    flake = (REPO / "flake.nix").read_text()
    assert len(flake.splitlines()) < 100
    assert nix_eval("(import ./flake.nix).inputs.nixpkgs.url") == "github:nixos/nixpkgs/nixos-unstable"
    for output in (
        "qwen3-32b-engine",
        "qwen3-32b-engine-tp2",
        "qwen3-32b-engine-tp4",
        "tritonserver-qwen3",
        "tritonserver-qwen3-tp2",
        "tritonserver-qwen3-tp4",
        "openai-qwen3",
        "demo",
        "default",
    ):
        assert re.search(rf"^\s+{re.escape(output)} = ", flake, re.MULTILINE), output
    assert "nixosModules.default = import ./nix/module.nix {" in flake
    lock = json.loads((REPO / "flake.lock").read_text())
    node = lock["nodes"]["nixpkgs"]
    assert node["original"] == {"owner": "nixos", "ref": "nixos-unstable", "repo": "nixpkgs", "type": "github"}
    assert re.fullmatch(r"[0-9a-f]{40}", node["locked"]["rev"])
    assert lock["nodes"]["root"]["inputs"] == {"nixpkgs": "nixpkgs"}
