"""``trtllm-nix proxy --workers 2``: two real server processes on one port, real HTTP, a real tritonserver."""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
from pathlib import Path
from types import ModuleType

import httpx
from prometheus_client.parser import text_string_to_metric_families
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyProcess, ProxyThread

from tests.helpers import RunningTriton, wait_until
from tests.proxy.sse import chat


def _start(triton: RunningTriton, assets: Assets, *extra: str) -> ProxyProcess:
    args = [
        "--tokenizer",
        str(assets.tokenizer),
        "--triton",
        triton.server.grpc_url,
        "--workers",
        "2",
        *extra,
    ]
    proxy = ProxyProcess(args, free_ports(1)[0], start_timeout=180)
    proxy.start()
    return proxy


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _workers(proxy: ProxyProcess) -> set[int]:
    """The proxy's worker processes: its children that import our app (not multiprocessing's resource tracker)."""
    return {pid for pid in _children(proxy.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().partition("=")[::2] for pair in pairs if b"=" in pair)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _samples(proxy: ProxyProcess, name: str) -> list[tuple[dict[str, str], float]]:
    text = httpx.get(proxy.base_url + "/metrics", timeout=10).text
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _chat_ok_total(proxy: ProxyProcess) -> float:
    return sum(
        value
        for labels, value in _samples(proxy, "trtllm_nix_requests_total")
        if labels["endpoint"] == "/v1/chat/completions" and labels["status"] == "200"
    )


def test_both_workers_serve_and_metrics_add_up(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = _start(scripted_triton, assets)
    try:
        workers = _workers(proxy)
        assert len(workers) == 2
        wait_until(
            lambda: sum(value for _, value in _samples(proxy, "trtllm_nix_workers_ready")) == 2,
            60,
            "both workers to report themselves serving",
        )
        # SMG's load monitor reads one answer for the whole proxy, whichever worker gives it
        load = httpx.get(proxy.base_url + "/v1/loads", timeout=10).json()["loads"][0]
        assert (load["max_running_requests"], load["num_running_reqs"]) == (256, 0)  # 128 + 128, none running
        sent = 0
        while True:  # a fresh connection each time; the kernel spreads them over the two listeners
            with httpx.Client(timeout=30) as client:
                response = client.post(proxy.base_url + "/v1/chat/completions", json=chat("hello there"))
            assert response.status_code == 200, response.text
            sent += 1
            served_by = {int(labels["pid"]) for labels, _ in _samples(proxy, "trtllm_nix_worker_requests_total")}
            if served_by == workers or sent >= 300:
                break
        assert served_by == workers, f"{sent} requests all went to {served_by}"
        assert _chat_ok_total(proxy) == sent  # whichever worker answers /metrics counts both
        assert sum(value for _, value in _samples(proxy, "trtllm_nix_completion_tokens_total")) > 0
    finally:
        proxy.stop()


def test_sigterm_stops_every_worker_and_removes_the_run_directory(
    scripted_triton: RunningTriton, assets: Assets
) -> None:
    proxy = _start(scripted_triton, assets)
    workers = _workers(proxy)
    metrics_dir = Path(_environ(next(iter(workers)))["PROMETHEUS_MULTIPROC_DIR"])
    assert metrics_dir.is_dir()
    everything = _children(proxy.pid)
    proxy.stop()  # SIGTERM, then wait
    assert proxy.returncode == 0
    assert not any(_alive(pid) for pid in workers)
    # multiprocessing's resource tracker leaves when it sees its parent's pipe close
    wait_until(
        lambda: not any(_alive(pid) for pid in everything),
        30,
        "every child of the proxy to exit",
    )
    assert not metrics_dir.parent.exists()


def test_sigkill_of_the_parent_takes_the_workers_with_it(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = _start(scripted_triton, assets)
    workers = _workers(proxy)
    try:
        os.kill(proxy.pid, signal.SIGKILL)
        wait_until(
            lambda: not any(_alive(pid) for pid in workers),
            30,
            "the workers to die with their parent",
        )
    finally:
        proxy.stop()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_in_flight_limit_holds_across_workers(scripted_triton: RunningTriton, assets: Assets) -> None:
    proxy = _start(scripted_triton, assets, "--max-in-flight", "2")
    slow = chat("one " + "word " * 200 + "#delay_ms:20", stream=True)  # four seconds an answer
    try:
        with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            streams = [client.stream("POST", proxy.base_url + "/v1/chat/completions", json=slow) for _ in range(8)]
            responses = [stream.__enter__() for stream in streams]
            try:
                statuses = sorted(r.status_code for r in responses)
                admitted = statuses.count(200)
                assert 1 <= admitted <= 2, statuses
                assert statuses.count(429) == 8 - admitted, statuses
                in_flight = sum(value for _, value in _samples(proxy, "trtllm_nix_requests_in_flight"))
                assert in_flight == admitted
                refused = next(r for r in responses if r.status_code == 429)
                assert re.search(r"limit of 1 generations", refused.read().decode())
            finally:
                for stream in streams:
                    stream.__exit__(None, None, None)
        wait_until(
            lambda: sum(v for _, v in _samples(proxy, "trtllm_nix_requests_in_flight")) == 0,
            30,
            "in flight to be 0",
        )
    finally:
        proxy.stop()


def _bench_module() -> ModuleType:
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module("side_by_side")


def test_bench_client_processes_load_the_proxy_of_each_stage(
    scripted_triton: RunningTriton, scripted_proxy: ProxyThread, assets: Assets
) -> None:
    """bench/side_by_side.py starts its client processes once, then the workers stage starts a proxy per worker
    count on a new port: every stage's requests must go to that stage's proxy (they went to the first, stopped
    one: all 256 requests of every worker count failed on the GPU machine)."""
    side_by_side = _bench_module()
    ctx = {
        "grpc": scripted_triton.server.grpc_url,
        "messages": [{"role": "user", "content": side_by_side.REPLY}],
        "tokens": 4,
        "count": len,
        "urls": {"proxy": f"http://127.0.0.1:{free_ports(1)[0]}"},  # nobody listens there
        "pids": {},
        "tokenizer": assets.tokenizer,
        "client_processes": 2,
    }
    try:
        gone = side_by_side.run_ours("proxy_stream", 2, 2, ctx)
        assert gone["errors"] == 2
        assert "ConnectError" in gone["first_error"]
        live = side_by_side.run_ours("proxy_stream", 2, 4, {**ctx, "urls": {"proxy": scripted_proxy.base_url}})
        assert live["errors"] == 0, live.get("first_error")
        assert live["tokens"] == 4 * 4
    finally:
        side_by_side.close_client_pool()
