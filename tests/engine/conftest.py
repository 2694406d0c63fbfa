"""Engine tests load the recording double through the seam's own switch, as a separate process would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trtllm_nix.engine.seam import SEAM_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seam_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    record = tmp_path / "seam-calls.jsonl"
    monkeypatch.setenv(SEAM_ENV, "tests.engine.recording_seam:RecordingSeam")
    monkeypatch.setenv("TRTLLM_NIX_SEAM_RECORD", str(record))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the fake tools and spawned converters import tests.*
    return record


def calls(record: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
