"""Percentiles and throughput from per-request samples, and the machine a run measured (recorded with every result)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from clients import Sample


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples: list[Sample], wall: float) -> dict[str, Any]:
    good = [s for s in samples if s.error is None and s.arrivals]
    ttft = [1000 * (s.arrivals[0] - s.started) for s in good]
    gaps = [1000 * (b - a) for s in good for a, b in zip(s.arrivals, s.arrivals[1:], strict=False)]
    tokens = sum(s.tokens for s in good)
    return {
        "requests": len(samples),
        "errors": len(samples) - len(good),
        "tokens": tokens,
        "wall_s": wall,
        "tokens_per_s": tokens / wall if wall else 0.0,
        "ttft_p50_ms": percentile(ttft, 50),
        "ttft_p99_ms": percentile(ttft, 99),
        "itl_p50_ms": percentile(gaps, 50),
        "itl_p99_ms": percentile(gaps, 99),
    }


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "date": time.strftime("%F")}
