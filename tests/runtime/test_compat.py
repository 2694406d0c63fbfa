"""CUDA forward compatibility decided from the image's own files and the host's kernel driver version, as the NGC
entrypoint decides it: the compat libcuda first on LD_LIBRARY_PATH only when the host driver is older."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from trtllm_nix.runtime import entry
from trtllm_nix.runtime.compat import decide_compat, host_driver_version
from trtllm_nix.runtime.entry import Sandbox
from trtllm_nix.runtime.launch import entry_command

BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
PROPRIETARY = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.15  Wed Jan  8 00:00:00 UTC 2025\nGCC version: gcc\n"
)
OPEN = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  590.44.01  Release Build  (dvs-builder@U22)\n"


def image_root(base: Path, compat: str = "usr/local/cuda/compat/lib.real", version: str = "580.95.05") -> Path:
    root = base / "root"
    folder = root / compat
    folder.mkdir(parents=True)
    (folder / f"libcuda.so.{version}").write_bytes(b"\x7fELF")
    (folder / "libcuda.so.1").symlink_to(f"libcuda.so.{version}")
    (root / "opt").mkdir()
    return root


@pytest.mark.parametrize(("text", "version"), [(PROPRIETARY, "570.86.15"), (OPEN, "590.44.01"), ("", None)])
def test_host_driver_version_from_the_kernel_module_line(tmp_path: Path, text: str, version: str | None) -> None:
    path = tmp_path / "version"
    path.write_text(text)
    assert host_driver_version(path) == version
    assert host_driver_version(tmp_path / "absent") is None


def test_an_older_host_driver_takes_the_images_compat_libraries(tmp_path: Path) -> None:
    decided = decide_compat(image_root(tmp_path), {}, "570.86.15")
    assert decided.use
    assert decided.library_dir == "/usr/local/cuda/compat/lib.real"
    assert "570.86.15 is older than the image's compat 580.95.05" in decided.reason


@pytest.mark.parametrize("host", ["580.95.05", "590.44.01", None])
def test_a_driver_as_new_or_none_leaves_compat_alone(tmp_path: Path, host: str | None) -> None:
    assert not decide_compat(image_root(tmp_path), {}, host).use


def test_the_images_own_compat_path_and_a_plain_compat_folder(tmp_path: Path) -> None:
    root = image_root(tmp_path, "usr/local/cuda-13.0/compat", "580.82.07")
    assert not decide_compat(root, {}, "570.1.1").use, "not where NGC's default _CUDA_COMPAT_PATH says"
    decided = decide_compat(root, {"_CUDA_COMPAT_PATH": "/usr/local/cuda-13.0/compat"}, "570.1.1")
    assert decided.library_dir == "/usr/local/cuda-13.0/compat"


def test_no_compat_package_no_change(tmp_path: Path) -> None:
    (tmp_path / "usr").mkdir()
    assert "no CUDA compat" in decide_compat(tmp_path, {}, "570.86.15").reason


def runtime_folder(base: Path) -> Path:
    """What nix/runtime.nix builds: root -> the exported filesystem, image-config.json -> `crane config`."""
    root = image_root(base)
    folder = base / "runtime"
    folder.mkdir()
    (folder / "root").symlink_to(root)
    env = ["PATH=/usr/bin", "LD_LIBRARY_PATH=/usr/local/tensorrt/lib", "CUDA_VERSION=13.0.2"]
    config = {"config": {"Env": env, "WorkingDir": "/workspace", "Entrypoint": ["/opt/nvidia/nvidia_entrypoint.sh"]}}
    (base / "config.json").write_text(json.dumps(config))
    (folder / "image-config.json").symlink_to(base / "config.json")
    return folder


def test_the_runtime_folder_gives_the_images_config_and_compat_goes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entry, "host_driver_version", lambda: "570.86.15")
    sandbox = Sandbox.open(runtime_folder(tmp_path), BWRAP)
    assert sandbox.root == (tmp_path / "root").resolve()
    assert sandbox.image is not None
    assert sandbox.image.environment["CUDA_VERSION"] == "13.0.2"
    assert sandbox.image.entrypoint == ("/opt/nvidia/nvidia_entrypoint.sh",)
    library_path = sandbox.environment({})["LD_LIBRARY_PATH"].split(":")
    assert library_path[:2] == ["/usr/local/cuda/compat/lib.real", "/usr/local/tensorrt/lib"]
    command = sandbox.command(["true"], caller={})
    assert command[command.index("--chdir") + 1] == "/workspace"
    again = entry_command(sandbox, ["true"], {})
    assert again[again.index("--root") + 1] == str(tmp_path / "runtime"), "a re-executed entry reads the config too"


def test_a_newer_host_driver_keeps_the_images_library_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "host_driver_version", lambda: "590.44.01")
    sandbox = Sandbox.open(runtime_folder(tmp_path), BWRAP)
    assert sandbox.environment({})["LD_LIBRARY_PATH"].split(":")[0] == "/usr/local/tensorrt/lib"
