"""The side-by-side table and its stable ratio keys (bench/results/latest.json "ratios")."""

from __future__ import annotations

import math
from typing import Any

LABELS = {
    "direct": "direct gRPC (limit)",
    "triton": "Triton generate_stream",
    "proxy_stream": "our proxy, stream",
    "proxy_nostream": "our proxy, non-stream",
    "peer_stream": "seed proxy, stream",
    "peer_nostream": "seed proxy, non-stream",
    "aiperf_proxy_stream": "our proxy, stream, AIPerf",
    "aiperf_proxy_nostream": "our proxy, non-stream, AIPerf",
    "aiperf_peer_stream": "seed proxy, stream, AIPerf",
    "aiperf_peer_nostream": "seed proxy, non-stream, AIPerf",
}
FRONT = {"proxy": "proxy", "peer": "peer", "triton": "triton"}


def _tps(runs: dict[str, Any], key: str) -> float | None:
    run = runs.get(key)
    if not run or "error" in run or not run.get("tokens_per_s"):
        return None
    return float(run["tokens_per_s"])


def frontend_cpu(path: str, run: dict[str, Any], runs: dict[str, Any], concurrency: str) -> float | None:
    """CPU per token of the path's own front end; for Triton's generate_stream, what tritonserver spends on top of
    the direct path at the same concurrency (HTTP, the ensemble's pre/post-processing models)."""
    cpu = run.get("cpu_us_per_token") or {}
    bare = path.removeprefix("aiperf_")
    if bare.startswith("proxy"):
        return cpu.get("proxy")
    if bare.startswith("peer"):
        return cpu.get("peer")
    if bare == "triton":
        direct = (runs.get(f"direct_c{concurrency}") or {}).get("cpu_us_per_token") or {}
        if cpu.get("triton") is not None and direct.get("triton") is not None:
            return float(cpu["triton"]) - float(direct["triton"])
    return None


def key_ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Stable keys; a key whose inputs were not measured is present with the value null (None)."""
    runs = results["runs"]
    out: dict[str, float | None] = {}
    for key in list(runs):
        path, _, concurrency = key.rpartition("_c")
        value, direct = _tps(runs, key), _tps(runs, f"direct_c{concurrency}")
        if path == "direct" or value is None:
            continue
        if direct:
            out[f"{path}_vs_direct_c{concurrency}"] = value / direct
        stem = path.removeprefix("aiperf_")
        if stem.startswith("proxy_"):
            peer = _tps(runs, key.replace("proxy_", "peer_"))
            if peer:
                out[f"{path}_vs_peer_{stem.removeprefix('proxy_')}_c{concurrency}"] = value / peer
            triton = _tps(runs, f"triton_c{concurrency}")
            if triton and stem == "proxy_stream":
                out[f"{path}_vs_triton_stream_c{concurrency}"] = value / triton
        cpu = frontend_cpu(path, runs[key], runs, concurrency)
        if cpu is not None:
            out[f"{path}_cpu_us_per_token_c{concurrency}"] = cpu
    stream, peer = _tps(runs, "proxy_stream_c64"), _tps(runs, "peer_stream_c64")
    out["proxy_stream_vs_peer_proxy_c64"] = stream / peer if stream and peer else None
    out.setdefault("proxy_stream_vs_direct_c64", None)
    out["proxy_cpu_us_per_token_c64"] = out.get("proxy_stream_cpu_us_per_token_c64")
    workers = results.get("workers") or {}
    one = _tps(workers, "1")
    for count in (key for key in workers if key.isdigit() and key != "1"):
        value = _tps(workers, count)
        out[f"workers_scaling_{count}"] = value / one if one and value else None
    out.setdefault("workers_scaling_4", None)  # tokens/s at 4 workers / at 1
    return out


def table(results: dict[str, Any]) -> str:
    runs = results["runs"]
    m = results["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['date']}; "
        f"{results['tokens_per_request']} output tokens per request; scripted reference backend, no delay",
        "",
        "| front end | conc | tok/s | x limit | x seed proxy | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms "
        "| front-end CPU us/token | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(runs, key=lambda k: (int(k.rsplit("_c", 1)[1]), list(LABELS).index(k.rsplit("_c", 1)[0]))):
        run = runs[key]
        path, concurrency = key.rsplit("_c", 1)
        if not run or "error" in run:
            lines.append(f"| {LABELS.get(path, path)} | {concurrency} | failed: {str((run or {}).get('error'))[-80:]}")
            continue
        value, direct = _tps(runs, key), _tps(runs, f"direct_c{concurrency}")
        peer = _tps(runs, key.replace("proxy_", "peer_")) if "proxy_" in key else None
        lines.append(
            f"| {LABELS.get(path, path)} | {concurrency} | {value or 0:.0f} | {_ratio(value, direct)} | "
            f"{_ratio(value, peer)} | {_f(run.get('ttft_p50_ms'))} | {_f(run.get('ttft_p99_ms'))} | "
            f"{_f(run.get('itl_p50_ms'))} | {_f(run.get('itl_p99_ms'))} | "
            f"{_f(frontend_cpu(path, run, runs, concurrency), 0)} | {_f(run.get('errors'), 0)} |"
        )
    workers = results.get("workers") or {}
    if "skipped" in workers:
        lines += ["", f"proxy --workers: skipped ({workers['skipped']})"]
    elif workers:
        lines += ["", f"our proxy, stream, by --workers (c={workers['concurrency']}, load: {workers['client']})", ""]
        lines += ["| workers | tok/s | x 1 worker | TTFT p99 ms | proxy CPU us/token |", "|---:|---:|---:|---:|---:|"]
        one = _tps(workers, "1")
        for count, run in workers.items():
            if not count.isdigit():
                continue
            if "error" in run or not run.get("tokens_per_s"):
                why = run.get("error") or f"{run.get('errors')} errors, first: {run.get('first_error')}"
                lines.append(f"| {count} | failed: {why[-120:]} |")
                continue
            value = _tps(workers, count)
            cpu = (run.get("cpu_us_per_token") or {}).get("proxy")
            lines.append(
                f"| {count} | {value or 0:.0f} | {_ratio(value, one)} | {_f(run.get('ttft_p99_ms'))} | {_f(cpu, 0)} |"
            )
    lines += ["", "stable keys: " + ", ".join(f"{k}={_f(results['ratios'].get(k), 2)}" for k in STABLE)]
    return "\n".join(lines)


STABLE = ("proxy_stream_vs_direct_c64", "proxy_stream_vs_peer_proxy_c64", "proxy_cpu_us_per_token_c64")
STABLE += ("workers_scaling_4",)


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}" if value and base else ""


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}"
