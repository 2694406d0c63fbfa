"""Every flake output, evaluated as `nix flake show`/`nix flake check --no-build` would, through the recording
stand-in nixpkgs: with the catalog as committed (null pins) and with every pin filled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.nix.standin import REPO, STANDIN, checkout, outputs, run_nix

SEED_PACKAGES = {
    "trtllm-nix",
    "default",
    "demo",
    "tritonserver-trtllm",
    "tritonserver-trtllm-root",
    "tritonserver-trtllm-config",
    "qwen3-32b-weights",
    "qwen3-32b-tokenizer",
    "qwen3-32b-engine",
    "qwen3-32b-engine-tp2",
    "qwen3-32b-engine-tp4",
    "qwen3-32b-triton-repo",
    "tritonserver-qwen3",
    "tritonserver-qwen3-tp2",
    "tritonserver-qwen3-tp4",
    "openai-qwen3",
    "smg",
}
# the PyTorch lane's (docs/pytorch-lane.md)
PYTORCH_PACKAGES = {
    "tensorrt-llm-release",
    "tensorrt-llm-release-root",
    "tensorrt-llm-release-config",
    "trtllm-serve-qwen3",
    "trtllm-serve-qwen3-tp2",
    "trtllm-serve-qwen3-tp4",
    "openai-qwen3-pytorch",
}
PACKAGES = SEED_PACKAGES | PYTORCH_PACKAGES
SHOW = """{
  packages = builtins.mapAttrs (_: p: p.drvPath) self.packages."x86_64-linux";
  apps = builtins.mapAttrs (_: a: { inherit (a) type program; }) self.apps."x86_64-linux";
  checks = builtins.mapAttrs (_: c: c.drvPath) self.checks."x86_64-linux";
  devShells = builtins.mapAttrs (_: d: d.drvPath) self.devShells."x86_64-linux";
  module = builtins.isFunction self.nixosModules.default;
  lib = builtins.attrNames self.lib;
}"""


@pytest.fixture(params=["unpinned", "pinned"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return checkout(tmp_path, pinned=request.param == "pinned")


def test_every_output_evaluates_with_and_without_pins(root: Path) -> None:
    shown = outputs(SHOW, root)
    assert set(shown["packages"]) == PACKAGES
    assert all(path.startswith("/nix/store/") and path.endswith(".drv") for path in shown["packages"].values())
    assert set(shown["checks"]) == {"unit-tests", "gpu-smoke"}
    assert set(shown["devShells"]) == {"default"}
    assert shown["module"]
    assert {"forModel", "mkEngine", "mkModelRepo", "mkTritonServer", "mkProxy", "catalog"} <= set(shown["lib"])
    apps = shown["apps"]
    assert set(apps) == {"default", "demo", "openai-qwen3", "tritonserver-qwen3", "tritonserver-qwen3-tp2",
                         "tritonserver-qwen3-tp4", "smg", "trtllm-serve-qwen3", "trtllm-serve-qwen3-tp2",
                         "trtllm-serve-qwen3-tp4", "openai-qwen3-pytorch"}  # fmt: skip
    for name, app in apps.items():
        assert app["type"] == "app"
        expected = {"default": "trtllm-nix", "demo": "trtllm-nix-demo"}.get(name, name)
        assert app["program"].startswith("/nix/store/")
        assert app["program"].endswith(f"/bin/{expected}")


def test_every_pinned_system_has_the_packages_and_the_module_takes_the_hosts() -> None:
    """GB200 and DGX Spark are aarch64: the flake's systems are those the runtime is pinned for."""
    systems = outputs("builtins.attrNames self.packages")
    assert systems == ["aarch64-linux", "x86_64-linux"]
    arm = outputs('builtins.mapAttrs (_: p: p.drvPath) self.packages."aarch64-linux"')
    assert set(arm) == PACKAGES
    assert arm["tritonserver-trtllm-root"] != outputs('self.packages."x86_64-linux".tritonserver-trtllm-root.drvPath')


def test_pins_change_what_is_built(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    unpinned = outputs(SHOW, checkout(tmp_path / "a", pinned=False))["packages"]
    pinned = outputs(SHOW, checkout(tmp_path / "b", pinned=True))["packages"]
    assert unpinned["qwen3-32b-weights"].endswith("-qwen3-32b-weights-unpinned.drv")
    assert pinned["qwen3-32b-weights"].endswith("-qwen3-32b-weights-0123456789ab.drv")
    assert unpinned["qwen3-32b-engine-tp4"] != pinned["qwen3-32b-engine-tp4"]
    assert unpinned["tritonserver-trtllm"] != pinned["tritonserver-trtllm"]


@pytest.mark.parametrize("command", [["flake", "show"], ["flake", "check", "--no-build"]])
def test_real_nix_flake_commands_accept_every_output(root: Path, command: list[str]) -> None:
    """Nix's own `flake show` and `flake check --no-build`, with nixpkgs overridden by the stand-in."""
    result = run_nix(["nix", *command, "--override-input", "nixpkgs", f"path:{STANDIN}", f"path:{root}"])
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower()


def test_smg_is_its_release_wheel_for_each_system() -> None:
    """The gateway (docs/gateway.md): the pinned wheel of the host's system, patched, with the wheel's dependencies."""
    for system, tag in (("x86_64-linux", "manylinux_2_17_x86_64"), ("aarch64-linux", "manylinux_2_28_aarch64")):
        args = outputs(f'self.packages."{system}".smg.standin.args.src.standin.args')
        assert args["url"].startswith("https://files.pythonhosted.org/packages/")
        assert f"smg-1.13.0-cp38-abi3-{tag}" in args["url"]
        assert args["outputHash"].startswith("sha256-")
    smg = outputs('let s = self.packages."x86_64-linux".smg.standin.args; in { inherit (s) format pythonImportsCheck; '
                  "deps = map (d: d.pname) s.dependencies; hooks = map (d: d.name) s.nativeBuildInputs; }")  # fmt: skip
    assert smg == {"format": "wheel", "pythonImportsCheck": ["smg.smg_rs"], "hooks": ["auto-patchelf-hook"],
                   "deps": ["setproctitle", "grpcio", "grpcio-health-checking", "pyyaml"]}  # fmt: skip


def test_catalog_hints_name_outputs_that_exist() -> None:
    catalog = json.loads((REPO / "python" / "trtllm_nix" / "catalog.json").read_text())
    hints = [catalog["runtime"]["to_compute"].values(), catalog["pytorch_runtime"]["to_compute"].values(),
             *(m["to_compute"].values() for m in catalog["models"].values())]  # fmt: skip
    named = {word.removeprefix(".#") for group in hints for hint in group for word in hint.split()
             if word.startswith(".#")}  # fmt: skip
    assert named, "the runtime's hash is computed by building a flake output"
    assert named <= PACKAGES
    assert "tensorrt-llm-release-root" in named
