"""What GPUs this machine has, read with NVML (pynvml): names, compute capability, memory, NVLink between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trtllm_nix.errors import SetupError


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: tuple[int, int]
    memory_total: int
    memory_free: int

    @property
    def sm(self) -> int:
        return self.compute_capability[0] * 10 + self.compute_capability[1]


@dataclass(frozen=True)
class GpuInventory:
    gpus: tuple[Gpu, ...]
    driver: str = "unknown"
    nvlink_pairs: frozenset[tuple[int, int]] = field(default_factory=frozenset)

    def nvlink_between(self, indices: list[int]) -> bool:
        """True when every pair of the chosen GPUs is connected by NVLink."""
        return all((a, b) in self.nvlink_pairs for i, a in enumerate(indices) for b in indices[i + 1 :])

    def as_dict(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "gpus": [
                {
                    "index": g.index,
                    "name": g.name,
                    "sm": g.sm,
                    "memory_total": g.memory_total,
                    "memory_free": g.memory_free,
                }
                for g in self.gpus
            ],
            "nvlink_pairs": sorted([list(pair) for pair in self.nvlink_pairs]),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GpuInventory:
        """The inverse of :meth:`as_dict` (an inventory read inside the runtime travels as JSON)."""
        gpus = tuple(
            Gpu(g["index"], g["name"], divmod(int(g["sm"]), 10), int(g["memory_total"]), int(g["memory_free"]))
            for g in data["gpus"]
        )
        pairs = frozenset((int(a), int(b)) for a, b in data.get("nvlink_pairs", []))
        return cls(gpus, str(data.get("driver", "unknown")), pairs)


def read_inventory() -> GpuInventory:
    """The machine's GPUs; a machine without NVML (no driver) has none."""
    try:
        import pynvml
    except ImportError as error:
        raise SetupError("nvidia-ml-py is not installed; pip install nvidia-ml-py") from error
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return GpuInventory(gpus=())
    try:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        gpus = []
        for index, handle in enumerate(handles):
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            gpus.append(
                Gpu(
                    index,
                    name.decode() if isinstance(name, bytes) else str(name),
                    (int(major), int(minor)),
                    int(memory.total),
                    int(memory.free),
                )
            )
        pairs = set()
        for a, first in enumerate(handles):
            for b in range(a + 1, len(handles)):
                try:
                    status = pynvml.nvmlDeviceGetP2PStatus(first, handles[b], pynvml.NVML_P2P_CAPS_INDEX_NVLINK)
                except pynvml.NVMLError:
                    continue
                if status == pynvml.NVML_P2P_STATUS_OK:
                    pairs.add((a, b))
        driver = pynvml.nvmlSystemGetDriverVersion()
        return GpuInventory(
            tuple(gpus), driver.decode() if isinstance(driver, bytes) else str(driver), frozenset(pairs)
        )
    finally:
        pynvml.nvmlShutdown()
