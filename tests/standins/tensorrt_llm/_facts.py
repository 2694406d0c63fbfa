"""The recorded signatures (upstream_facts.json) and the argument check every stand-in call goes through."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FACTS_FILE = Path(
    os.environ.get("TRTLLM_STANDIN_FACTS")
    or Path(__file__).resolve().parents[3] / "python" / "trtllm_nix" / "upstream_facts.json"
)
FACTS: dict[str, Any] = json.loads(FACTS_FILE.read_text("utf-8"))
PYTHON_API: dict[str, Any] = FACTS["python_api"]


def bind(name: str, signature: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Bind ``args``/``kwargs`` to a recorded signature, raising TypeError as Python would for a wrong call."""
    positional: list[str] = list(signature.get("positional", []))
    defaults: dict[str, Any] = dict(signature.get("keywords", {}))
    order = positional + [key for key in defaults if key not in positional]
    if len(args) > len(order):
        raise TypeError(f"{name}() takes {len(order)} arguments but {len(args)} were given")
    bound = dict(zip(order, args, strict=False))
    for key, value in kwargs.items():
        if key in bound:
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
        if key not in order and not signature.get("accepts_extra_keywords"):
            raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
        bound[key] = value
    missing = [key for key in order if key not in bound and key not in defaults]
    if missing:
        raise TypeError(f"{name}() missing required argument(s): {', '.join(missing)}")
    return {**{key: defaults[key] for key in order if key in defaults}, **bound}


def record(call: str, **fields: Any) -> None:
    path = os.environ.get("TRTLLM_STANDIN_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            where = {"pid": os.getpid(), "in_image": Path("/opt/tritonserver/bin/tritonserver").exists()}
            out.write(json.dumps({"call": call, **where, **fields}, default=str, sort_keys=True) + "\n")
