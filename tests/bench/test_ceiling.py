"""Round three's bench parts (issue 32): the synthetic upstream speaks the proxy's Triton protocol, the report's
stable keys and verdicts. Nothing here times anything."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from ceiling_report import key_ratios, verdicts  # noqa: E402


def run(tps: float, **extra: object) -> dict[str, object]:
    return {"tokens_per_s": tps, "errors": 0, "ttft_p99_ms": 12.0, **extra}


def test_key_ratios_and_verdicts() -> None:
    runs = {
        "direct_c64": run(40_000.0),
        "proxy_c64": run(8_000.0, cpu_us_per_token={"proxy": 100.0, "upstream": 2.0}),
        "smg_c64": run(7_800.0, cpu_us_per_token={"proxy": 100.0, "smg": 20.0}),
        "peer_c64": run(2_000.0, cpu_us_per_token={"peer": 400.0}),
        "proxy_c256": run(8_000.0),
        "proxy_w4_c256": run(28_000.0),
        "proxy_c2048": run(7_000.0, errors=0, ttft_p99_ms=900.0),
    }
    ratios = key_ratios({"runs": runs})
    assert ratios["proxy_cpu_us_per_token_c64"] == 100.0
    assert ratios["proxy_vs_smg_cpu_per_token_c64"] == 5.0
    assert ratios["workers_scaling_4"] == 3.5
    assert ratios["proxy_stream_vs_direct_c64"] == 0.2
    assert ratios["proxy_stream_vs_peer_proxy_c64"] == 4.0
    assert ratios["errors_c2048"] == 0
    assert ratios["ttft_p99_ms_c2048"] == 900.0
    assert ratios["workers_scaling_2"] is None
    goals = verdicts(ratios)
    assert goals["workers_scaling_4"].startswith("met")
    assert goals["proxy_cpu_us_per_token_c64"].startswith("MISSED")
    assert goals["errors_c2048"].startswith("met")


def test_synthetic_upstream_streams_one_response_per_token() -> None:
    from trtllm_nix.llm.triton_client import TritonUpstream, UpstreamRequest
    from trtllm_nix.triton.ports import free_ports

    port = free_ports(1)[0]
    command = [sys.executable, str(ROOT / "bench" / "synthetic_upstream.py"), "--port", str(port)]
    process = subprocess.Popen([*command, "--token-ids", "7,8,9"], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"

        async def go() -> tuple[bool, list[list[int]], list[bool]]:
            upstream = TritonUpstream(f"127.0.0.1:{port}")
            try:
                ready = await upstream.ready()
                request = UpstreamRequest(input_ids=[1, 2, 3], max_new_tokens=5, end_id=-1, pad_id=0)
                chunks = [chunk async for chunk in upstream.generate(request)]
                return ready, [c.token_ids for c in chunks], [c.final for c in chunks]
            finally:
                await upstream.close()

        ready, ids, finals = asyncio.run(go())
        assert ready
        assert ids == [[7], [8], [9], [7], [8], []]
        assert finals == [False] * 5 + [True]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
