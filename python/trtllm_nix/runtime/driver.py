"""Find the host's NVIDIA user-space driver the way the NVIDIA container toolkit does, and say what to bind.

Order: a CDI spec (``/etc/cdi`` then ``/var/run/cdi``, ``*.json`` or ``*.yaml`` whose ``kind`` is
``nvidia.com/gpu``; NixOS ``hardware.nvidia-container-toolkit`` writes one), else ``/run/opengl-driver/lib``
(NixOS), else ``/usr/local/nvidia/lib64`` (a container host's driver volume), else the distribution's library
folder. From a CDI spec we take its mounts (libraries and binaries), device nodes and environment; its hooks
(``update-ldcache``, ``create-symlinks``) are replaced by putting the driver's library folders on
``LD_LIBRARY_PATH`` and binding the ``.so.1`` names the hooks would have made.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtllm_nix.errors import SetupError

CDI_DIRS = (Path("/etc/cdi"), Path("/var/run/cdi"))
FALLBACK_DIRS = (
    Path("/run/opengl-driver/lib"),
    Path("/usr/local/nvidia/lib64"),
    Path("/usr/lib/x86_64-linux-gnu"),
    Path("/usr/lib/aarch64-linux-gnu"),
    Path("/usr/lib64"),
    Path("/usr/lib"),
)
BIN_DIRS = (Path("/run/current-system/sw/bin"), Path("/usr/local/nvidia/bin"), Path("/usr/bin"))
# The user-space driver, as nvidia-container-toolkit's library list names it (libcuda, libnvidia-*, and friends).
_DRIVER_LIB = re.compile(r"^(libcuda|libcudadebugger|libnvidia-[a-z0-9-]+|libnvcuvid|libnvoptix)\.so(\.\d+)*$")
_DRIVER_BINS = ("nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-control")


@dataclass(frozen=True)
class Driver:
    """What the sandbox needs: (host path, path inside) binds, device nodes, environment, library folders."""

    source: str
    libraries: tuple[tuple[Path, str], ...] = ()
    binaries: tuple[tuple[Path, str], ...] = ()
    device_nodes: tuple[Path, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    library_dirs: tuple[str, ...] = ()


LIB_INSIDE = "/run/trtllm-nix/driver/lib"
BIN_INSIDE = "/run/trtllm-nix/driver/bin"


def find_driver(cdi_dirs: tuple[Path, ...] = CDI_DIRS, fallback_dirs: tuple[Path, ...] = FALLBACK_DIRS) -> Driver:
    for directory in cdi_dirs:
        for spec in sorted([*directory.glob("*.json"), *directory.glob("*.yaml"), *directory.glob("*.yml")]):
            document = _load_spec(spec)
            if isinstance(document, dict) and str(document.get("kind", "")).startswith("nvidia.com/"):
                return driver_from_cdi(document, str(spec))
    nodes = device_nodes()
    for directory in fallback_dirs:
        libraries = driver_libraries(directory)
        if any(host.name.startswith("libcuda.so") for host, _ in libraries):
            return Driver(str(directory), libraries, driver_binaries(), nodes, {}, (LIB_INSIDE,))
    return Driver("none found", (), driver_binaries(), nodes, {}, ())


def driver_libraries(directory: Path) -> tuple[tuple[Path, str], ...]:
    """Each driver library file (and its soname links) in ``directory``, bound one by one under LIB_INSIDE."""
    if not directory.is_dir():
        return ()
    found = sorted(p for p in directory.iterdir() if _DRIVER_LIB.match(p.name) and p.exists())
    return tuple((p, f"{LIB_INSIDE}/{p.name}") for p in found)


def driver_binaries() -> tuple[tuple[Path, str], ...]:
    """Each driver program found, from the first of ``BIN_DIRS`` that has it."""
    found = {name: next((d / name for d in BIN_DIRS if (d / name).exists()), None) for name in _DRIVER_BINS}
    return tuple((path, f"{BIN_INSIDE}/{name}") for name, path in sorted(found.items()) if path is not None)


def device_nodes(dev: Path = Path("/dev")) -> tuple[Path, ...]:
    names = sorted(dev.glob("nvidia*"))
    caps = dev / "nvidia-caps"
    return tuple(p for p in names if p != caps) + ((caps,) if caps.exists() else ())


def driver_from_cdi(document: dict[str, Any], source: str) -> Driver:
    edits = [document.get("containerEdits") or {}]
    edits += [device.get("containerEdits") or {} for device in document.get("devices") or []]
    libraries: list[tuple[Path, str]] = []
    binaries: list[tuple[Path, str]] = []
    nodes: list[Path] = []
    environment: dict[str, str] = {}
    for edit in edits:
        for mount in edit.get("mounts") or []:
            host = Path(mount["hostPath"])
            name = Path(str(mount.get("containerPath") or host)).name
            if ".so" in name:
                # Bound by name into one folder of our own: the image root is read-only, so bwrap cannot make
                # mount points at the spec's containerPath (the toolkit writes into the container's overlay).
                libraries.append((host, f"{LIB_INSIDE}/{name}"))
            elif host.name in _DRIVER_BINS:
                binaries.append((host, f"{BIN_INSIDE}/{host.name}"))
            # firmware, sockets and config files: the sandbox shares the host's /dev, /run and kernel already
        for node in edit.get("deviceNodes") or []:
            path = Path(node.get("hostPath") or node["path"])
            if path not in nodes:
                nodes.append(path)
        for entry in edit.get("env") or []:
            name, _, value = str(entry).partition("=")
            environment[name] = value
    # The update-ldcache hook would make each libfoo.so.<version> loadable as libfoo.so.1: bind those names too.
    for host, inside in list(libraries):
        soname = re.sub(r"\.so\.\d+(\.\d+)*$", ".so.1", Path(inside).name)
        if soname != Path(inside).name and not any(Path(i).name == soname for _, i in libraries):
            libraries.append((host, f"{LIB_INSIDE}/{soname}"))
    dirs = (LIB_INSIDE,) if libraries else ()
    return Driver(source, tuple(libraries), tuple(binaries), tuple(nodes), environment, dirs)


def _load_spec(path: Path) -> object:
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise SetupError(f"CDI spec {path} is not valid JSON: {error}") from error
    try:
        yaml = importlib.import_module("yaml")
    except ImportError as error:
        raise SetupError(
            f"CDI spec {path} is YAML; install PyYAML or write it as JSON (nvidia-ctk cdi generate --format=json)"
        ) from error
    return yaml.safe_load(text)
