"""Finding the host's NVIDIA driver: a CDI spec as NixOS writes it, else the library folders, in order."""

from __future__ import annotations

import json
from pathlib import Path

from trtllm_nix.runtime.driver import LIB_INSIDE, driver_from_cdi, find_driver

STORE = "/nix/store/abc-nvidia-x11-580.119.02/lib"


def _nixos_spec() -> dict[str, object]:
    """The shape nvidia-ctk cdi generate writes (NixOS hardware.nvidia-container-toolkit), store paths included."""
    return {
        "cdiVersion": "0.5.0",
        "kind": "nvidia.com/gpu",
        "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}}],
        "containerEdits": {
            "env": ["NVIDIA_VISIBLE_DEVICES=void"],
            "deviceNodes": [{"path": "/dev/nvidiactl"}, {"path": "/dev/nvidia-uvm"}],
            "hooks": [{"hookName": "createContainer", "path": "/nix/store/x-nvidia-ctk", "args": ["update-ldcache"]}],
            "mounts": [
                {"hostPath": f"{STORE}/libcuda.so.580.119.02", "containerPath": f"{STORE}/libcuda.so.580.119.02"},
                {
                    "hostPath": f"{STORE}/libnvidia-ml.so.580.119.02",
                    "containerPath": f"{STORE}/libnvidia-ml.so.580.119.02",
                },
                {"hostPath": "/nix/store/abc-nvidia-x11-bin/bin/nvidia-smi", "containerPath": "/usr/bin/nvidia-smi"},
                {"hostPath": "/lib/firmware/nvidia/580.119.02/gsp_ga10x.bin", "containerPath": "/lib/firmware/x"},
            ],
        },
    }


def test_cdi_spec_gives_libraries_soname_links_binaries_nodes_and_env() -> None:
    driver = driver_from_cdi(_nixos_spec(), "/var/run/cdi/nvidia-container-toolkit.json")
    inside = {name for _, name in driver.libraries}
    assert {
        f"{LIB_INSIDE}/libcuda.so.580.119.02",
        f"{LIB_INSIDE}/libcuda.so.1",
        f"{LIB_INSIDE}/libnvidia-ml.so.1",
    } <= inside
    assert {i: h for h, i in driver.libraries}[f"{LIB_INSIDE}/libcuda.so.1"] == Path(f"{STORE}/libcuda.so.580.119.02")
    assert [h.name for h, _ in driver.binaries] == ["nvidia-smi"]
    assert driver.device_nodes == (Path("/dev/nvidiactl"), Path("/dev/nvidia-uvm"), Path("/dev/nvidia0"))
    assert driver.environment == {"NVIDIA_VISIBLE_DEVICES": "void"}
    assert driver.library_dirs == (LIB_INSIDE,)


def test_cdi_spec_wins_over_library_folders(tmp_path: Path) -> None:
    cdi, lib = tmp_path / "cdi", tmp_path / "lib"
    cdi.mkdir()
    lib.mkdir()
    (lib / "libcuda.so.1").write_bytes(b"")
    (cdi / "nvidia-container-toolkit.json").write_text(json.dumps(_nixos_spec()))
    assert find_driver((cdi,), (lib,)).source.endswith("nvidia-container-toolkit.json")


def test_first_folder_with_libcuda_wins_and_only_driver_files_are_bound(tmp_path: Path) -> None:
    empty, opengl, distro = tmp_path / "empty", tmp_path / "opengl-driver", tmp_path / "distro"
    for folder in (empty, opengl, distro):
        folder.mkdir()
    for name in ("libcuda.so.1", "libcuda.so.580.1", "libnvidia-ml.so.1", "libnvidia-ptxjitcompiler.so.1", "libz.so.1"):
        (opengl / name).write_bytes(b"")
    (distro / "libcuda.so.1").write_bytes(b"")
    driver = find_driver((tmp_path / "no-cdi",), (empty, opengl, distro))
    assert driver.source == str(opengl)
    assert sorted(h.name for h, _ in driver.libraries) == [
        "libcuda.so.1",
        "libcuda.so.580.1",
        "libnvidia-ml.so.1",
        "libnvidia-ptxjitcompiler.so.1",
    ]
    assert all(inside.startswith(LIB_INSIDE + "/") for _, inside in driver.libraries)


def test_no_driver_anywhere_says_so(tmp_path: Path) -> None:
    driver = find_driver((tmp_path / "c",), (tmp_path / "l",))
    assert driver.source == "none found"
    assert driver.libraries == ()
    assert driver.library_dirs == ()
