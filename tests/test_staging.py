"""Staged folders appear whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from trtllm_nix.staging import staged_folder


def test_success_replaces_the_destination(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with staged_folder(dest) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_leaves_the_destination_and_no_staging(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")

    def fail_half_way() -> None:
        with staged_folder(dest) as staging:
            (staging / "partial.txt").write_text("partial")
            raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        fail_half_way()
    assert sorted(p.name for p in dest.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
