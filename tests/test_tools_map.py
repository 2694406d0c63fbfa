"""docs/tools-map.md names every file in scripts/ and bench/, so none is left without a stated purpose."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_script_and_benchmark_is_on_the_map() -> None:
    text = (REPO / "docs" / "tools-map.md").read_text()
    files = [p for folder in ("scripts", "bench") for p in sorted((REPO / folder).iterdir()) if p.is_file()]
    missing = [f"{p.parent.name}/{p.name}" for p in files if p.name != "README.md" and p.name not in text]
    assert missing == [], f"add these to docs/tools-map.md: {missing}"
