"""Prometheus metrics of the proxy, in a registry of its own (one per app, so tests can run several).

Under ``--workers N`` (``PROMETHEUS_MULTIPROC_DIR`` set by proxy/workers.py before the workers start) every worker
writes its values to files in that directory and ``/metrics`` of any worker aggregates all of them: counters and
histograms are summed, the in-flight and workers-ready gauges are sums over live workers, the event-loop task
gauge is reported per worker (label ``pid``, refreshed when that worker answers a scrape)."""

from __future__ import annotations

import asyncio
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TOKEN_GAP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56)


class ProxyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        r = self.registry
        self.requests = Counter(
            "trtllm_nix_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.prompt_tokens = Counter("trtllm_nix_prompt_tokens", "Prompt tokens sent to the engine", registry=r)
        self.completion_tokens = Counter("trtllm_nix_completion_tokens", "Tokens generated", registry=r)
        self.time_to_first_token = Histogram(
            "trtllm_nix_time_to_first_token_seconds",
            "From request arrival to the first generated token",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inter_token_latency = Histogram(
            "trtllm_nix_inter_token_latency_seconds",
            "Gap between consecutive generated tokens",
            buckets=TOKEN_GAP_BUCKETS,
            registry=r,
        )
        self.request_duration = Histogram(
            "trtllm_nix_request_duration_seconds", "Whole generation time", buckets=LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge(
            "trtllm_nix_requests_in_flight", "Generation requests in flight", registry=r, multiprocess_mode="livesum"
        )
        self.generations_in_flight = Gauge(
            "trtllm_nix_generations_in_flight",
            "Upstream generations in flight (a request with n choices counts n): what --max-in-flight limits",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.worker_requests = Counter(
            "trtllm_nix_worker_requests", "HTTP requests answered by each worker process", ["pid"], registry=r
        )
        self.pid = str(os.getpid())
        self.cancellations = Counter(
            "trtllm_nix_cancellations", "Requests cancelled because the client left", registry=r
        )
        self.upstream_errors = Counter("trtllm_nix_upstream_errors", "Failures talking to Triton", ["kind"], registry=r)
        self.event_loop_tasks = Gauge(
            "trtllm_nix_event_loop_tasks",
            "Tasks alive on the serving event loop (a leak shows here)",
            registry=r,
            multiprocess_mode="liveall",
        )
        if not self.multiprocess:  # a function is read only in this process; files carry values across processes
            self.event_loop_tasks.set_function(_task_count)
        self.workers_ready = Gauge(
            "trtllm_nix_workers_ready",
            "Server processes started and serving (1, or the live ones of --workers N)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.rejections = Counter("trtllm_nix_rejections", "Requests refused before generation", ["reason"], registry=r)

    def exposition(self) -> bytes:
        if self.multiprocess:
            self.event_loop_tasks.set(_task_count())
        return bytes(generate_latest(self._whole()))

    def total(self, name: str) -> float:
        """A gauge's value over the whole proxy: this process's, or the sum over the live ``--workers``."""
        return float(self._whole().get_sample_value(name) or 0.0)

    def _whole(self) -> CollectorRegistry:
        """This process's registry, or under ``--workers`` one that reads every worker's files."""
        if not self.multiprocess:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry


def _task_count() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # read outside the event loop
        return 0.0
