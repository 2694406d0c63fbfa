"""CUDA forward compatibility, decided the way the NGC image's own start-up decides it, from the image's files.

NGC images start through their entrypoint (``/opt/nvidia/nvidia_entrypoint.sh``), whose start-up script puts the
image's CUDA compat libraries (``$_CUDA_COMPAT_PATH``, ``/usr/local/cuda/compat`` in NGC's CUDA base) first on
``LD_LIBRARY_PATH`` when the host's kernel driver is older than the image's CUDA needs (NVIDIA's start-up
script, read id 57659701762: the driver version from ``/proc/driver/nvidia/version``'s ``Kernel Module`` line,
``_CUDA_COMPAT_PATH`` from the image's ENV). The image keeps the libraries in ``lib.real`` and lists
``$_CUDA_COMPAT_PATH/lib`` in ``/etc/ld.so.conf.d/00-cuda-compat.conf`` with ``lib`` itself removed, so the loader
never takes them unless start-up chooses to (triton-inference-server/server build.py, read id 304287845: "Extra
defensive wiring for CUDA Compat lib"). The root here is read-only, so the choice is made here and expressed as
``LD_LIBRARY_PATH``: compat first when the host driver is older than the compat ``libcuda.so.<version>`` the image
carries; never when it is as new or newer (the compat libcuda would then be the older one). Forward compatibility
works on data-centre GPUs only (https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_COMPAT = "/usr/local/cuda/compat"
DRIVER_VERSION_FILE = Path("/proc/driver/nvidia/version")
# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  ..." and the open modules' "Kernel Module for x86_64"
_KERNEL_MODULE = re.compile(r"Kernel Module(?: for [a-z0-9_]+| ) *([0-9][^() \s]*)")
_LIBCUDA = re.compile(r"^libcuda\.so\.(\d+(?:\.\d+)+)$")


@dataclass(frozen=True)
class Compat:
    """The decision: ``library_dir`` (a path inside the root) goes first on LD_LIBRARY_PATH when ``use``."""

    use: bool
    reason: str
    library_dir: str | None = None


def host_driver_version(path: Path = DRIVER_VERSION_FILE) -> str | None:
    try:
        found = _KERNEL_MODULE.search(path.read_text("utf-8", errors="replace"))
    except OSError:
        return None
    return found.group(1) if found else None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def compat_libraries(root: Path, image_env: dict[str, str]) -> tuple[str, str] | None:
    """(folder inside the root, libcuda version) of the image's compat package, or None if it has none."""
    base = image_env.get("_CUDA_COMPAT_PATH") or DEFAULT_COMPAT
    for inside in (f"{base}/lib.real", base):
        folder = root / inside.lstrip("/")
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            found = _LIBCUDA.match(entry.name)
            if found and not entry.is_symlink():
                return inside, found.group(1)
    return None


def decide_compat(root: Path, image_env: dict[str, str], host_version: str | None) -> Compat:
    carried = compat_libraries(root, image_env)
    if carried is None:
        return Compat(False, "the image carries no CUDA compat libraries")
    inside, compat_version = carried
    if host_version is None:
        return Compat(False, f"no host driver version (no /proc/driver/nvidia/version); compat {compat_version} unused")
    if _version(host_version) < _version(compat_version):
        return Compat(True, f"host driver {host_version} is older than the image's compat {compat_version}", inside)
    return Compat(False, f"host driver {host_version} is not older than the image's compat {compat_version}")
