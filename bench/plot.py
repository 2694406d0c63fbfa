"""The chart of docs/benchmarks.md: tokens per second of each path by concurrency (runs in .venv-bench)."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

results = json.load(open(sys.argv[1]))  # noqa: SIM115
runs = results["runs"]
labels = {
    "a": "(a) direct gRPC",
    "b": "(b) Triton generate_stream",
    "c": "(c) proxy stream",
    "d": "(d) proxy non-stream",
}
figure, axis = plt.subplots(figsize=(8, 4.5))
for path, label in labels.items():
    points = sorted(
        (int(k.split("_c")[1]), v["tokens_per_s"]) for k, v in runs.items() if k.startswith(f"{path}_c") and v
    )
    axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
axis.set_xscale("log", base=2)
axis.set_xlabel("concurrent requests")
axis.set_ylabel("output tokens / s (all requests)")
axis.set_title(f"trtllm-nix proxy overhead, scripted backend, {results['machine']['cores']} cores")
axis.grid(True, alpha=0.3)
axis.legend()
figure.tight_layout()
figure.savefig(sys.argv[2], dpi=110)
