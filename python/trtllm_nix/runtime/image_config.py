"""The image's own environment: from its OCI config JSON when the root carries one, else NVIDIA's documented set.

The config file is ``ROOT/.image-config.json`` in the OCI image-config form (``{"config": {"Env": [...],
"WorkingDir": ...}}``, what ``crane config IMAGE`` prints). Without it, ``NGC_TRTLLM_DEFAULTS`` applies; each value
comes from the recipe that builds ``tritonserver:<yy.mm>-trtllm-python-py3`` (sources beside each line). Libraries
that the image finds through ``/etc/ld.so.conf.d`` (CUDA, NCCL, HPC-X, libpython3.12) need nothing here: the image
root is ``/`` inside the sandbox, so its own ``ld.so.cache`` is the one the loader reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import SetupError

CONFIG_NAME = ".image-config.json"

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


def read_image_config(root: Path) -> ImageConfig:
    path = root / CONFIG_NAME
    if not path.exists():
        return ImageConfig(dict(NGC_TRTLLM_DEFAULTS), "/", "NGC tritonserver-trtllm defaults (no .image-config.json)")
    try:
        document = json.loads(path.read_text("utf-8"))
        config = document.get("config", document)
        environment = dict(str(entry).split("=", 1) for entry in config.get("Env") or [])
        working_dir = str(config.get("WorkingDir") or "/")
    except (ValueError, AttributeError, TypeError) as error:
        raise SetupError(f"{path} is not an OCI image config (want {{'config': {{'Env': [...]}}}}): {error}") from error
    return ImageConfig(environment, working_dir, str(path))
