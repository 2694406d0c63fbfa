"""The real SMG (``smg`` 1.13.0, the Rust gateway from PyPI) in front of two trtllm-nix stacks: two tritonservers with
the scripted reference backend, two proxies (processes of their own) sharing one PostgreSQL Responses store, one
API key from the client through SMG to the proxies. docs/gateway.md describes the layout.

One module fixture starts everything; the tests run in file order and the last one kills a stack. Which proxy
served a request is SMG's own answer header ``x-smg-routed-worker-id`` (the worker's URL). Nothing waits on a
sleep: every wait polls a condition (``wait_until``).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from trtllm_nix.triton.ports import free_ports
from trtllm_nix.triton.runtime import TritonRuntime
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyProcess
from trtllm_nix_testkit.repository import write_reference_repository
from trtllm_nix_testkit.triton_server import TritonServer

from tests.conftest import REPO_ROOT
from tests.helpers import wait_until
from tests.postgres import PostgresServer

KEY = "sk-gateway-e2e"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROUTED = "x-smg-routed-worker-id"  # SMG's answer header: the URL of the worker that served the request


def smg_binary() -> Path:
    """``$TRTLLM_NIX_SMG`` (the Makefile sets it), else ``.venv-smg/bin/smg`` (``make .venv-smg/bin/smg``)."""
    path = Path(os.environ.get("TRTLLM_NIX_SMG") or REPO_ROOT / ".venv-smg" / "bin" / "smg")
    if not path.is_file():
        pytest.fail(f"SMG is not installed at {path}: make .venv-smg/bin/smg (or set TRTLLM_NIX_SMG)")
    return path


@dataclass
class Stack:
    triton: TritonServer
    proxy: ProxyProcess


@dataclass
class Gateway:
    url: str
    metrics_url: str
    process: subprocess.Popen[bytes]
    stacks: list[Stack]
    log: Path

    def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={**AUTH, **headers}, timeout=60)

    def proxy_of(self, response: httpx.Response) -> str:
        routed = response.headers.get(ROUTED)
        assert routed in {stack.proxy.base_url for stack in self.stacks}, (routed, response.text[:300])
        return str(routed)


def _triton(tmp: Path, runtime: TritonRuntime, assets: Assets) -> TritonServer:
    repo = write_reference_repository(tmp / "repo", "scripted", assets.tokenizer, assets.tiny_model, tmp / "stats.json")
    return TritonServer(runtime, repo, tmp / "work")  # its ports are picked now: the proxies can start beside it


def _ready(proxy: ProxyProcess) -> bool:
    try:
        return httpx.get(proxy.base_url + "/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets, postgres: PostgresServer
) -> Iterator[Gateway]:
    smg = smg_binary()
    root = tmp_path_factory.mktemp("gateway")
    key_file = root / "api-key"
    key_file.write_text(KEY + "\n")
    store = postgres.create_database("gateway_e2e")
    tritons = [_triton(root / name, runtime, assets) for name in ("a", "b")]  # each in its own folder
    ports = free_ports(4)
    proxies = [
        ProxyProcess(
            [
                "--tokenizer",
                str(assets.tokenizer),
                "--triton",
                triton.grpc_url,
                "--api-key-file",
                str(key_file),
                "--responses-store",
                store,
                "--state-dir",
                str(root / f"state-{index}"),
            ],
            ports[index],
        )
        for index, triton in enumerate(tritons)
    ]
    stacks = [Stack(triton, proxy) for triton, proxy in zip(tritons, proxies, strict=True)]
    log_path = root / "smg.log"
    log: IO[bytes] = log_path.open("wb")
    process: subprocess.Popen[bytes] | None = None
    try:
        # the proxies start beside the tritons (a proxy does not need its triton to start); the tritons one after
        # the other: two Python backends initializing at once can abort on their shared-memory lock
        # (boost::interprocess::lock_exception)
        with ThreadPoolExecutor(3) as pool:
            started = [pool.submit(lambda: [triton.start() for triton in tritons])]
            started += [pool.submit(proxy.start) for proxy in proxies]
            for future in started:
                future.result()
        for proxy in proxies:  # SMG's health check is /health/ready: a proxy is ready once its Triton's pool is
            wait_until(lambda proxy=proxy: _ready(proxy), 60, f"the proxy on {proxy.base_url} to be ready")
        process = subprocess.Popen(
            [str(smg), "launch", "--host", "127.0.0.1", "--port", str(ports[2]),
             "--prometheus-host", "127.0.0.1", "--prometheus-port", str(ports[3]),
             "--worker-urls", *(proxy.base_url for proxy in proxies),
             "--policy", "cache_aware", "--api-key", KEY,
             "--health-check-endpoint", "/health/ready", "--health-check-interval-secs", "1",
             "--load-monitor-interval", "1", "--log-level", "info",
             # by default cache_aware sends some cache misses to a worker for its first 60 s, and one cache hit in
             # 8 to a "thin" worker, to warm caches: off, so the affinity test sees the prefix routing itself
             "--worker-warmup-secs", "0", "--worker-warmup-divert-every", "0"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        gateway = Gateway(
            f"http://127.0.0.1:{ports[2]}", f"http://127.0.0.1:{ports[3]}/metrics", process, stacks, log_path
        )

        def registered() -> bool:
            try:
                workers = httpx.get(gateway.url + "/workers", headers=AUTH, timeout=2).json()["workers"]
            except (httpx.HTTPError, ValueError, KeyError):
                assert process is not None
                assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
                return False
            return len(workers) == 2 and all(worker["status"] == "ready" for worker in workers)

        wait_until(registered, 60, "SMG to register both proxies")
        yield gateway
    finally:
        if process is not None:  # SIGKILL: its graceful stop keeps the listener open 5 s for load balancers
            process.kill()
            process.wait(timeout=15)
        log.close()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda stop: stop(), [*(p.stop for p in proxies), *(t.stop for t in tritons)]))


def chat(text: str, system: str | None = None, **fields: object) -> dict[str, object]:
    messages = [{"role": "system", "content": system}] if system else []
    return {"model": "qwen3", "messages": [*messages, {"role": "user", "content": text}], **fields}


def test_smg_registers_the_proxies_with_their_limits_and_loads(gateway: Gateway) -> None:
    workers = httpx.get(gateway.url + "/workers", headers=AUTH, timeout=10).json()["workers"]
    assert sorted(worker["url"] for worker in workers) == sorted(stack.proxy.base_url for stack in gateway.stacks)
    for worker in workers:
        assert worker["models"][0]["id"] == "qwen3"
        assert worker["models"][0]["context_length"] == int(worker["labels"]["max_model_len"])  # our /v1/models
        assert "responses" in worker["models"][0]["model_type"]

    def loads_read() -> bool:  # SMG's load monitor reads each proxy's GET /v1/loads
        loads = httpx.get(gateway.url + "/get_loads", headers=AUTH, timeout=10).json()["loads"]
        return len(loads) == 2 and all(load["max_running_requests"] == 256 for load in loads)

    wait_until(loads_read, 30, "SMG to read both proxies' /v1/loads")


def test_the_api_key_is_enforced_at_the_gateway_and_accepted_by_the_proxies(gateway: Gateway) -> None:
    body = chat("#reply: keyed")
    missing = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    wrong = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30,
                       headers={"Authorization": "Bearer sk-wrong"})  # fmt: skip
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert ROUTED not in missing.headers  # refused by SMG: no proxy was asked
    assert ROUTED not in wrong.headers
    answered = gateway.post("/v1/chat/completions", body)
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "keyed"
    gateway.proxy_of(answered)  # SMG forwarded the same key, and the proxy took it
    for stack in gateway.stacks:  # and a proxy reached around the gateway still wants it
        direct = httpx.post(stack.proxy.base_url + "/v1/chat/completions", json=body, timeout=30)
        assert direct.status_code == 401
        assert direct.json()["error"]["code"] == "invalid_api_key"


def test_request_ids_pass_through(gateway: Gateway) -> None:
    answered = gateway.post("/v1/chat/completions", chat("#reply: traced"), **{"X-Request-Id": "e2e-trace-0042"})
    assert answered.status_code == 200, answered.text
    assert answered.headers["x-request-id"] == "e2e-trace-0042"


def test_cache_aware_routing_keeps_each_prompt_family_on_one_proxy(gateway: Gateway) -> None:
    """Three families (a long system prompt each), four turns each, interleaved: every family stays on one proxy."""
    families = {name: " ".join(f"{name}-rule-{i}" for i in range(300)) for name in ("alpha", "beta", "gamma")}
    served: dict[str, list[str]] = {name: [] for name in families}
    for turn in range(4):
        for name, system in families.items():
            answered = gateway.post("/v1/chat/completions", chat(f"#reply: {name} {turn}", system))
            assert answered.status_code == 200, answered.text
            assert answered.json()["choices"][0]["message"]["content"] == f"{name} {turn}"
            served[name].append(gateway.proxy_of(answered))
    report = {name: dict(Counter(urls)) for name, urls in served.items()}
    print("cache-aware affinity (family: proxy -> requests):", report)
    assert all(len(set(urls)) == 1 for urls in served.values()), report


def test_both_layers_can_be_scraped(gateway: Gateway) -> None:
    """SMG's smg_* on its own listener (routing, per worker); each proxy's trtllm_nix_* behind the shared key."""
    smg = httpx.get(gateway.metrics_url, timeout=10)
    assert smg.status_code == 200
    assert "smg_http_requests_total" in smg.text
    for stack in gateway.stacks:
        assert stack.proxy.base_url in smg.text  # per-worker series name the proxy
        assert httpx.get(stack.proxy.base_url + "/metrics", timeout=10).status_code == 401
        scraped = httpx.get(stack.proxy.base_url + "/metrics", headers=AUTH, timeout=10)
        assert scraped.status_code == 200
        assert "trtllm_nix_time_to_first_token_seconds_bucket" in scraped.text


def test_cpu_per_streamed_token_of_smg_and_the_proxies(gateway: Gateway) -> None:
    """Measured, not asserted beyond sanity: the closing note of issue 30 (docs/gateway.md has the numbers)."""
    pids = {"smg": gateway.process.pid, **{f"proxy{i}": s.proxy.pid for i, s in enumerate(gateway.stacks)}}
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    tokens = 0
    body = chat("#reply: " + "tok " * 100, stream=True, stream_options={"include_usage": True})
    for _ in range(20):
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: {") and '"usage":{' in line.replace(" ", ""):
                    tokens += int(line.split('"completion_tokens":')[1].split(",")[0].split("}")[0])
    used = {name: _cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    proxies = sum(value for name, value in used.items() if name != "smg")
    print(f"streamed {tokens} tokens; CPU µs per token: smg {1e6 * used['smg'] / tokens:.1f}, "
          f"proxies {1e6 * proxies / tokens:.1f}")  # fmt: skip
    assert tokens >= 20 * 100


def test_a_conversation_continues_on_the_other_proxy_while_one_stack_is_killed(gateway: Gateway) -> None:
    """A Responses conversation starts on one proxy; that whole stack is then killed (SIGKILL of the proxy, the
    tritonserver stopped) in the middle of a stream of requests. Every request is answered, and the conversation
    continues on the other proxy from the shared PostgreSQL store."""
    first = gateway.post("/v1/responses", {"model": "qwen3", "input": "#reply: The capital of France is Paris."})
    assert first.status_code == 200, first.text
    doomed_url = gateway.proxy_of(first)
    doomed = next(stack for stack in gateway.stacks if stack.proxy.base_url == doomed_url)
    survivor = next(stack for stack in gateway.stacks if stack is not doomed)

    results: list[tuple[int, str, str]] = []  # status, expected text, what came back
    served: Counter[str] = Counter()
    lock = threading.Lock()
    killed = threading.Event()

    def client(number: int) -> None:
        for request in range(12):
            text = f"client {number} request {request}"
            answered = gateway.post("/v1/chat/completions", chat(f"#reply: {text}", f"client {number} " * 40))
            content = answered.json()["choices"][0]["message"]["content"] if answered.status_code == 200 else ""
            with lock:
                results.append((answered.status_code, text, content or answered.text[:200]))
                if answered.status_code == 200:
                    served["after kill" if killed.is_set() else "before kill", gateway.proxy_of(answered)] += 1

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(client, number) for number in range(4)]
        wait_until(lambda: len(results) >= 12, 60, "a quarter of the requests to be answered")
        os.kill(doomed.proxy.pid, 9)  # the stack dies mid-run: no graceful shutdown
        killed.set()
        doomed.triton.stop()
        for future in running:
            future.result()

    # streams sent right after the kill, before any health check can have noticed it: SMG retries a stream whose
    # worker refuses the connection (one already flowing from a proxy that dies is cut: nothing can replay it)
    for number in range(4):
        text = f"stream {number} after the kill"
        body = chat(f"#reply: {text}", f"stream {number} " * 40, stream=True)
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60) as r:
            lines = [line for line in r.iter_lines() if line.startswith("data: ")]
            content = "".join(
                json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                for line in lines
                if line != "data: [DONE]" and json.loads(line[6:])["choices"]
            )
            results.append((r.status_code, text, content if lines[-1:] == ["data: [DONE]"] else "(no [DONE])"))
            served["after kill", r.headers.get(ROUTED, "?")] += 1

    failed = [result for result in results if result[0] != 200 or result[1] != result[2]]
    report = {f"{phase} -> {url}": count for (phase, url), count in sorted(served.items())}
    print(f"failover: {len(results)} requests, {len(failed)} failed; served: {report}")
    assert not failed, failed
    assert len(results) == 48 + 4

    second = gateway.post(
        "/v1/responses",
        {"model": "qwen3", "input": "#reply: And of Italy, Rome.", "previous_response_id": first.json()["id"]},
    )
    assert second.status_code == 200, second.text
    assert gateway.proxy_of(second) == survivor.proxy.base_url  # the other proxy ...
    assert second.json()["previous_response_id"] == first.json()["id"]
    # ... continued the first turn: its prompt holds the first turn's input and answer
    alone = gateway.post("/v1/responses", {"model": "qwen3", "input": "#reply: And of Italy, Rome."})
    assert second.json()["usage"]["input_tokens"] > alone.json()["usage"]["input_tokens"] + 10
    kept = httpx.get(f"{survivor.proxy.base_url}/v1/responses/{first.json()['id']}", headers=AUTH, timeout=10)
    assert kept.status_code == 200  # stored by the dead proxy, served by the live one
    assert kept.json()["output"][0]["content"][0]["text"] == "The capital of France is Paris."
    # GET (and DELETE) /v1/responses/{id} through SMG in HTTP mode is answered by SMG's own history store, which
    # holds nothing of ours (with --history-backend none too): docs/gateway.md sends them to a proxy
    through = httpx.get(f"{gateway.url}/v1/responses/{first.json()['id']}", headers=AUTH, timeout=10)
    assert through.status_code == 404
    assert ROUTED not in through.headers
    assert through.json()["error"]["code"] == "not_found"
