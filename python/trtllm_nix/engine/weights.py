"""What a checkpoint's tensors really are, read from safetensors headers (no weights are loaded).

NVFP4 linear weights are packed uint8 ``[out, in/2]`` with float8_e4m3fn ``weight_scale`` blocks and fp32
``weight_scale_2``; FP8 weights are float8_e4m3fn with an fp32 ``weight_scale``. A checkpoint whose metadata says
one thing and whose tensors say another is refused before any build starts.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import UserError


@dataclass(frozen=True)
class WeightSummary:
    linear_dtypes: Counter[str]
    has_block_scales: bool
    total_bytes: int

    @property
    def looks_like(self) -> str | None:
        """NVFP4, FP8 or None (16-bit) from the projection weights' dtype."""
        if not self.linear_dtypes:
            return None
        dtype = self.linear_dtypes.most_common(1)[0][0]
        if dtype == "U8" and self.has_block_scales:
            return "NVFP4"
        if dtype == "F8_E4M3":
            return "FP8"
        return None


def read_header(path: Path) -> dict[str, dict[str, object]]:
    with path.open("rb") as handle:
        size_bytes = handle.read(8)
        if len(size_bytes) != 8:
            raise UserError(f"{path} is not a safetensors file (too short)")
        (size,) = struct.unpack("<Q", size_bytes)
        if size > 100 * 1024 * 1024:
            raise UserError(f"{path} is not a safetensors file (header of {size} bytes)")
        header = json.loads(handle.read(size))
    header.pop("__metadata__", None)
    return {name: info for name, info in header.items() if isinstance(info, dict)}


def summarize(model_dir: Path) -> WeightSummary:
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise UserError(f"{model_dir} has no *.safetensors weights")
    linear: Counter[str] = Counter()
    block, total = False, 0
    for path in files:
        for name, info in read_header(path).items():
            offsets = info.get("data_offsets") or [0, 0]
            assert isinstance(offsets, list)
            total += int(offsets[1]) - int(offsets[0])
            if name.endswith("_proj.weight"):
                linear[str(info.get("dtype"))] += 1
            elif name.endswith(".weight_scale") and info.get("dtype") == "F8_E4M3":
                block = True
    return WeightSummary(linear, block, total)


def check_consistent(quant_algo: str | None, summary: WeightSummary, source: str) -> None:
    seen = summary.looks_like
    if seen != quant_algo:
        said = quant_algo or "unquantized"
        found = seen or "16-bit"
        raise UserError(
            f"{source} says {said}, but the projection weights are {found} "
            f"({dict(summary.linear_dtypes)}); the checkpoint is inconsistent, download it again"
        )
