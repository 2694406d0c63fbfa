"""The chart of docs/benchmarks.md: tokens/s and TTFT p99 by concurrency for each front end (runs in .venv-bench)."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

results = json.load(open(sys.argv[1]))  # noqa: SIM115
runs = results["runs"]
labels = {
    "direct": "direct gRPC (limit)",
    "triton": "Triton generate_stream",
    "proxy_stream": "our proxy, stream",
    "peer_stream": "seed proxy, stream",
    "proxy_nostream": "our proxy, non-stream",
    "peer_nostream": "seed proxy, non-stream",
}
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
for path, label in labels.items():
    points = sorted(
        (int(k.rsplit("_c", 1)[1]), v["tokens_per_s"], v["ttft_p99_ms"])
        for k, v in runs.items()
        if k.rsplit("_c", 1)[0] == path and v and "error" not in v
    )
    if not points:
        continue
    style = "--" if "nostream" in path else "-"
    left.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=label)
    if "nostream" not in path:
        right.plot([p[0] for p in points], [p[2] for p in points], style, marker="o", label=label)
for axis, ylabel in ((left, "output tokens / s (all requests)"), (right, "TTFT p99 (ms), streaming paths")):
    axis.set_xscale("log", base=2)
    axis.set_xlabel("concurrent requests")
    axis.set_ylabel(ylabel)
    axis.grid(True, alpha=0.3)
right.set_yscale("log")
left.legend(fontsize=8)
m = results["machine"]
figure.suptitle(f"front ends side by side, scripted backend, {m['cores']} cores ({m['cpu']})", fontsize=10)
figure.tight_layout()
figure.savefig(sys.argv[2], dpi=110)
