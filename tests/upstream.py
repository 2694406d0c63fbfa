"""The committed upstream facts (python/trtllm_nix/upstream_facts.json, written by scripts/upstream_facts.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FACTS_PATH = Path(__file__).resolve().parent.parent / "python" / "trtllm_nix" / "upstream_facts.json"


@cache
def facts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FACTS_PATH.read_text("utf-8"))
    return data
