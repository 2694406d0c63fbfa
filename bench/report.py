"""Ratios to the direct path (a) and the markdown table printed last."""

from __future__ import annotations

from typing import Any

NAMES = {"b": "triton_stream", "c": "proxy_stream", "d": "proxy_nostream"}


def ratios(runs: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, run in runs.items():
        path, _, concurrency = key.partition("_c")
        if path not in NAMES or not run:
            continue
        base = runs.get(f"a_c{concurrency}")
        if base and base["tokens_per_s"]:
            out[f"{NAMES[path]}_vs_direct_c{concurrency}"] = run["tokens_per_s"] / base["tokens_per_s"]
            out[f"{NAMES[path]}_ttft_added_ms_c{concurrency}"] = run["ttft_p50_ms"] - base["ttft_p50_ms"]
    return out


def table(results: dict[str, Any]) -> str:
    runs = results["runs"]
    lines = [
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores; "
        f"{results['tokens_per_request']} output tokens per request",
        "",
        "| path | conc | tok/s | x direct | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | proxy CPU us/token |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "a": "(a) direct gRPC",
        "b": "(b) Triton generate_stream",
        "c": "(c) proxy stream",
        "d": "(d) proxy non-stream",
        "aiperf_c": "(c) proxy stream, AIPerf",
        "aiperf_d": "(d) proxy non-stream, AIPerf",
    }
    for key in sorted(runs, key=lambda k: (int(k.rsplit("_c", 1)[1]), k)):
        run = runs[key]
        if not run or "error" in run:
            continue
        path, concurrency = key.rsplit("_c", 1)
        base = runs.get(f"a_c{concurrency}", {})
        ratio = (
            run["tokens_per_s"] / base["tokens_per_s"] if base.get("tokens_per_s") and run.get("tokens_per_s") else None
        )
        cpu = run.get("proxy_cpu_us_per_token")
        lines.append(
            f"| {labels.get(path, path)} | {concurrency} | {run['tokens_per_s'] or 0:.0f} | "
            f"{'' if ratio is None else f'{ratio:.2f}'} | {_f(run['ttft_p50_ms'])} | {_f(run['ttft_p99_ms'])} | "
            f"{_f(run['itl_p50_ms'])} | {_f(run['itl_p99_ms'])} | {'' if cpu is None else f'{cpu:.0f}'} |"
        )
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
