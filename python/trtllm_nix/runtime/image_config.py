"""The image's own environment: from its OCI config JSON, else NVIDIA's documented set for 25.12.

``--runtime`` takes either the Nix runtime folder (``nix/runtime.nix``: ``root`` -> the exported filesystem,
``image-config.json`` -> what ``crane config --platform P IMAGE`` printed, each its own fixed-output derivation)
or a bare root, whose config may be ``ROOT/.image-config.json``. The config is the OCI image-config form
(``{"config": {"Env": [...], "WorkingDir": ..., "Entrypoint": [...]}}``). Without one, ``NGC_TRTLLM_DEFAULTS``
applies and the source says so; each value comes from the recipe that builds ``tritonserver:25.12-trtllm-python-py3``
(sources beside each line), so another release needs its config pinned (catalog.json runtime.systems.*.config_hash).
Libraries
that the image finds through ``/etc/ld.so.conf.d`` (CUDA, NCCL, HPC-X, libpython3.12) need nothing here: the image
root is ``/`` inside the sandbox, so its own ``ld.so.cache`` is the one the loader reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import SetupError

CONFIG_NAME = ".image-config.json"
FOLDER_ROOT = "root"
FOLDER_CONFIG = "image-config.json"

# triton-inference-server/server build.py, dockerfile_prepare_container_linux and the TensorRT-LLM post-build
# (read id 912015134): ENV PATH /opt/tritonserver/bin:${PATH}; ENV UCX_MEM_EVENTS no;
# ENV LD_LIBRARY_PATH=/usr/local/tensorrt/lib/:/opt/tritonserver/backends/tensorrtllm:$LD_LIBRARY_PATH;
# ENV LD_LIBRARY_PATH /opt/hpcx/ucc/lib/:/opt/hpcx/ucx/lib/:${LD_LIBRARY_PATH} (pytorch backend);
# ENV TRITON_SERVER_GPU_ENABLED 1. The CUDA base image underneath (nvidia/cuda Dockerfiles) adds
# /usr/local/nvidia/bin:/usr/local/cuda/bin to PATH and /usr/local/nvidia/lib:/usr/local/nvidia/lib64 to
# LD_LIBRARY_PATH. /usr/local/mpi/bin (NGC's Open MPI link to /opt/hpcx/ompi) is NGC convention, not read here.
NGC_TRTLLM_DEFAULTS: dict[str, str] = {
    "PATH": ":".join(
        [
            "/opt/tritonserver/bin",
            "/usr/local/mpi/bin",
            "/opt/hpcx/ompi/bin",
            "/usr/local/nvidia/bin",
            "/usr/local/cuda/bin",
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
    ),
    "LD_LIBRARY_PATH": ":".join(
        [
            "/usr/local/tensorrt/lib",
            "/opt/tritonserver/backends/tensorrtllm",
            "/opt/hpcx/ucc/lib",
            "/opt/hpcx/ucx/lib",
            "/usr/local/nvidia/lib",
            "/usr/local/nvidia/lib64",
        ]
    ),
    "UCX_MEM_EVENTS": "no",
    "TRITON_SERVER_GPU_ENABLED": "1",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class ImageConfig:
    environment: dict[str, str]
    working_dir: str
    source: str
    entrypoint: tuple[str, ...] = ()


def locate_runtime(path: Path) -> tuple[Path, Path | None]:
    """(the image root, its config file or None) of a ``--runtime`` argument: a runtime folder or a bare root."""
    folder = path.resolve()
    if (folder / FOLDER_ROOT).is_dir() and not (folder / "usr").is_dir():
        config = folder / FOLDER_CONFIG
        return (folder / FOLDER_ROOT).resolve(), config if config.exists() else None
    own = folder / CONFIG_NAME
    return folder, own if own.exists() else None


def read_image_config(root: Path, path: Path | None = None) -> ImageConfig:
    """The config at ``path`` (default: ``ROOT/.image-config.json``), else the 25.12 defaults."""
    path = path if path is not None else root / CONFIG_NAME
    if not path.exists():
        return ImageConfig(
            dict(NGC_TRTLLM_DEFAULTS),
            "/",
            "NGC tritonserver 25.12-trtllm defaults (no image config: pin catalog.json runtime.systems.*.config_hash)",
        )
    try:
        document = json.loads(path.read_text("utf-8"))
        config = document.get("config", document)
        environment = dict(str(entry).split("=", 1) for entry in config.get("Env") or [])
        working_dir = str(config.get("WorkingDir") or "/")
        entrypoint = tuple(str(part) for part in config.get("Entrypoint") or [])
    except (ValueError, AttributeError, TypeError) as error:
        raise SetupError(f"{path} is not an OCI image config (want {{'config': {{'Env': [...]}}}}): {error}") from error
    return ImageConfig(environment, working_dir, str(path), entrypoint)
