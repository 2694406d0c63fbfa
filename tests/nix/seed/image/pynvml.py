"""Stand-in NVML (nvidia-ml-py's ``pynvml``) in the stand-in image root: the GPUs the image's NVML would report
through the host driver, here four NVIDIA B200 (SM100, 180 GiB each, NVLink between all; TRTLLM_STANDIN_GPUS=0:
no driver, as in a Nix sandbox without the GPUs mounted). Only the calls trtllm_nix.gpus makes. It cannot show a
real driver, real free memory or a real topology."""

from __future__ import annotations

import os
from types import SimpleNamespace

NVML_P2P_CAPS_INDEX_NVLINK = 3
NVML_P2P_STATUS_OK = 0
COUNT = int(os.environ.get("TRTLLM_STANDIN_GPUS", "4"))
TOTAL = 180 * 1024**3


class NVMLError(Exception):
    pass


def nvmlInit() -> None:
    if COUNT == 0:
        raise NVMLError("Driver Not Loaded")


def nvmlShutdown() -> None:
    pass


def nvmlDeviceGetCount() -> int:
    return COUNT


def nvmlDeviceGetHandleByIndex(index: int) -> int:
    if not 0 <= index < COUNT:
        raise NVMLError("Invalid Argument")
    return index


def nvmlDeviceGetName(handle: int) -> str:
    return "NVIDIA B200"


def nvmlDeviceGetMemoryInfo(handle: int) -> SimpleNamespace:
    return SimpleNamespace(total=TOTAL, free=TOTAL - 600 * 1024**2, used=600 * 1024**2)


def nvmlDeviceGetCudaComputeCapability(handle: int) -> tuple[int, int]:
    return (10, 0)


def nvmlDeviceGetP2PStatus(first: int, second: int, index: int) -> int:
    return NVML_P2P_STATUS_OK


def nvmlSystemGetDriverVersion() -> str:
    return "580.00.00-standin"
