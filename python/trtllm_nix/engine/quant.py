"""ModelOpt quantization metadata, in either shape, read into one typed spec.

Shapes: the legacy ``hf_quant_config.json`` (``{"producer": ..., "quantization": {"quant_algo", "kv_cache_quant_algo",
"group_size", "exclude_modules"}}``), ModelOpt 1.0's flat ``hf_quant_config.json`` and ``config.json``'s
``quantization_config`` (``{"quant_algo", "kv_cache_scheme", "ignore", "config_groups", ...}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtllm_nix.errors import UserError

SUPPORTED = ("NVFP4", "FP8")
GROUP_SIZES = {"NVFP4": 16}


@dataclass(frozen=True)
class QuantSpec:
    """What the checkpoint is quantized to; ``algo`` None means not quantized (BF16/FP16 weights)."""

    algo: str | None
    kv_cache_algo: str | None = None
    group_size: int | None = None
    exclude_modules: tuple[str, ...] = ()
    source: str = "none"

    def as_quant_config(self) -> dict[str, Any]:
        """The keyword arguments of TensorRT-LLM's ``QuantConfig``, always explicit (never an empty default)."""
        config: dict[str, Any] = {"quant_algo": self.algo, "kv_cache_quant_algo": self.kv_cache_algo}
        if self.group_size is not None:
            config["group_size"] = self.group_size
        if self.exclude_modules:
            config["exclude_modules"] = list(self.exclude_modules)
        return config

    def as_manifest(self) -> dict[str, Any]:
        return {
            "quant_algo": self.algo,
            "kv_cache_quant_algo": self.kv_cache_algo,
            "group_size": self.group_size,
            "exclude_modules": list(self.exclude_modules),
            "source": self.source,
        }


def read_quant_spec(model_dir: Path) -> QuantSpec:
    """The checkpoint's quantization from hf_quant_config.json, else config.json's quantization_config."""
    legacy = model_dir / "hf_quant_config.json"
    if legacy.is_file():
        data = _json(legacy)
        section = data.get("quantization", data)
        if not isinstance(section, dict):
            raise UserError(f"{legacy}: 'quantization' must be an object")
        return _spec(section, legacy.name if "quantization" in data else f"{legacy.name} (flat, ModelOpt 1.0)")
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise UserError(f"{model_dir} has no config.json: not a Hugging Face checkpoint")
    section = _json(config_path).get("quantization_config")
    if section is None:
        return QuantSpec(algo=None, source="config.json (no quantization_config)")
    if not isinstance(section, dict):
        raise UserError(f"{config_path}: quantization_config must be an object")
    method = section.get("quant_method")
    if method not in (None, "modelopt"):
        raise UserError(
            f"{config_path}: quant_method {method!r} is not ModelOpt; supported: ModelOpt "
            f"{', '.join(SUPPORTED)} checkpoints (e.g. nvidia/Qwen3-32B-NVFP4, nvidia/Qwen3-32B-FP8)"
        )
    return _spec(section, "config.json quantization_config")


def _spec(section: dict[str, Any], source: str) -> QuantSpec:
    algo = section.get("quant_algo")
    if algo is None and isinstance(section.get("config_groups"), dict):
        algo = _algo_from_groups(section["config_groups"])
    if not isinstance(algo, str):
        raise UserError(f"{source}: no quant_algo; supported: {', '.join(SUPPORTED)}")
    algo = algo.upper()
    if algo not in SUPPORTED:
        raise UserError(f"{source}: quant_algo {algo} is not supported; supported: {', '.join(SUPPORTED)}")
    kv = section.get("kv_cache_quant_algo")
    if kv is None and isinstance(section.get("kv_cache_scheme"), dict):
        scheme = section["kv_cache_scheme"]
        kv = "FP8" if scheme.get("num_bits") == 8 and scheme.get("type") == "float" else None
        if kv is None:
            raise UserError(f"{source}: kv_cache_scheme {scheme} is not supported; supported: 8-bit float (FP8)")
    group = section.get("group_size")
    if group is None and algo in GROUP_SIZES:
        group = _group_from_groups(section.get("config_groups")) or GROUP_SIZES[algo]
    if algo == "NVFP4" and group != 16:
        raise UserError(f"{source}: NVFP4 needs group_size 16, the checkpoint says {group}")
    exclude = section.get("exclude_modules", section.get("ignore", []))
    return QuantSpec(
        algo=algo,
        kv_cache_algo=str(kv).upper() if kv else None,
        group_size=int(group) if group is not None else None,
        exclude_modules=tuple(str(m) for m in exclude or ()),
        source=source,
    )


def _algo_from_groups(groups: dict[str, Any]) -> str | None:
    for group in groups.values():
        weights = group.get("weights", {}) if isinstance(group, dict) else {}
        if weights.get("num_bits") == 4 and weights.get("type") == "float":
            return "NVFP4"
        if weights.get("num_bits") == 8 and weights.get("type") == "float":
            return "FP8"
    return None


def _group_from_groups(groups: object) -> int | None:
    if not isinstance(groups, dict):
        return None
    for group in groups.values():
        size = group.get("weights", {}).get("group_size") if isinstance(group, dict) else None
        if isinstance(size, int):
            return size
    return None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object")
    return data
