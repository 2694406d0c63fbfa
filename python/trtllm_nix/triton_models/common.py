"""Small helpers shared by our Triton Python models (they run inside Triton's Python stub)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def model_parameters(args: dict[str, str]) -> dict[str, str]:
    config = json.loads(args["model_config"])
    return {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}


def resolve_path(args: dict[str, str], value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (Path(args["model_repository"]) / path).resolve()


class Inputs:
    """One request's input tensors, read by name; scalars and strings flattened from ``[batch, 1]``."""

    def __init__(self, pb: Any, request: Any) -> None:
        self._pb = pb
        self._request = request

    def array(self, name: str) -> Any:
        tensor = self._pb.get_input_tensor_by_name(self._request, name)
        return None if tensor is None else tensor.as_numpy()

    def scalar(self, name: str) -> Any:
        array = self.array(name)
        if array is None:
            return None
        values = np.asarray(array).reshape(-1)
        if values.size != 1:
            raise ValueError(f"{name} must hold exactly one value per request, got {values.size}")
        return values[0].item()

    def strings(self, name: str) -> list[str] | None:
        array = self.array(name)
        if array is None:
            return None
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(array).reshape(-1)]

    def string(self, name: str) -> str | None:
        values = self.strings(name)
        if values is None:
            return None
        if len(values) != 1:
            raise ValueError(f"{name} must hold exactly one string per request, got {len(values)}")
        return values[0]


def string_tensor(pb: Any, name: str, values: list[str], shape: tuple[int, ...]) -> Any:
    return pb.Tensor(name, np.asarray([v.encode("utf-8") for v in values], dtype=np.object_).reshape(shape))
