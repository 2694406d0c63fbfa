"""What trtllm-nix sees and does on a real multi-GPU machine (run by scripts/gpu-check through the device tool).

Prints: the GPU inventory and NVLink pairs, the preflight for Qwen3-32B NVFP4/FP8 builds, `doctor` on a
Qwen3-32B-shaped NVFP4 TP2 engine, the launch `serve` plans for world size 2, then a real `serve` at world size 2
with the reference backend running the tiny Qwen3 on CUDA, checked against transformers' greedy output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import torch
from transformers import AutoModelForCausalLM
from trtllm_nix.doctor import diagnose
from trtllm_nix.engine.preflight import BuildPlan, PreflightError, check_preflight
from trtllm_nix.engine.sizes import QWEN3_32B_CONFIG, Architecture, expected_rank_bytes
from trtllm_nix.gpus import read_inventory
from trtllm_nix.processes import alive, descendants
from trtllm_nix_testkit.assets.build import ensure_assets
from trtllm_nix_testkit.repository import write_reference_repository

QWEN3_32B = Architecture.from_hf_config(QWEN3_32B_CONFIG)


def section(title: str) -> None:
    print(f"\n## {title}", flush=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="gpu-report-"))
    section("inventory (pynvml)")
    inventory = read_inventory()
    print(json.dumps(inventory.as_dict(), indent=1))
    print(subprocess.run(["nvidia-smi", "topo", "-m"], capture_output=True, text=True).stdout)

    section("preflight for Qwen3-32B")
    for quant, tp in (("NVFP4", 1), ("FP8", 1), ("FP8", 2)):
        plan = BuildPlan("nvidia/Qwen3-32B-" + quant, quant, tp, 1, expected_rank_bytes(QWEN3_32B, quant, tp))
        try:
            print(f"{quant} TP{tp}: ok: " + " | ".join(check_preflight(inventory, plan)))
        except PreflightError as error:
            print(f"{quant} TP{tp}: refused (exit {error.exit_code}): {error}")

    section("doctor on a Qwen3-32B NVFP4 TP2 engine folder (sparse files) and its repository")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from trtllm_nix.engine.engine_config import read_engine
    from trtllm_nix.repo.generate import RepositorySpec, write_repository

    from tests.engine.fake_tools import arch_fields, write_engine  # the engine folders the tests use

    assets = ensure_assets(work / "cache")
    engine = work / "engine"
    qwen3 = QWEN3_32B_CONFIG
    write_engine(
        engine,
        {
            **arch_fields(qwen3),
            "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1},
            "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8"},
        },
        {"max_batch_size": 16, "max_seq_len": 24576},
    )
    (engine / "tokenizer").mkdir()
    (engine / "tokenizer" / "tokenizer.json").write_text((assets.tokenizer / "tokenizer.json").read_text())
    repo = write_repository(
        RepositorySpec(engine=read_engine(engine), engine_path=str(engine), tokenizer_path=assets.tokenizer),
        work / "repo-trt",
    )
    for finding in diagnose(engine, repo, None, inventory):
        print(finding.line())

    section("serve --print-command, world size 2")
    ref = write_reference_repository(work / "repo-ref", "hf", assets.tokenizer, assets.tiny_model, tp_size=2)
    cli = [sys.executable, "-m", "trtllm_nix.cli"]
    for gpus in ("0,1",):
        printed = subprocess.run(
            [*cli, "serve", "--repo", str(ref), "--gpus", gpus, "--print-command", "--run-dir", str(work / "run")],
            capture_output=True,
            text=True,
        )
        print(printed.stdout[:3000] + printed.stderr[-2000:])

    section("serve at world size 2: reference backend (hf) on CUDA")
    serve = subprocess.Popen(
        [
            *cli,
            "serve",
            "--repo",
            str(ref),
            "--http-port",
            "18000",
            "--grpc-port",
            "18001",
            "--metrics-port",
            "18002",
            "--run-dir",
            str(work / "run"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert serve.stdout is not None
    for line in serve.stdout:
        print(line, end="", flush=True)
        if line.startswith("ready:") or "error" in line:
            break
    tree = descendants(serve.pid)
    prompt = "<|im_start|>user\nTell me about GPUs.<|im_end|>\n<|im_start|>assistant\n"
    ids = assets_ids(assets.tokenizer, prompt)
    body = {
        "input_ids": ids,
        "input_lengths": len(ids),
        "request_output_len": 24,
        "runtime_top_k": 1,
        "streaming": True,
    }
    with httpx.stream(
        "POST", "http://127.0.0.1:18000/v2/models/tensorrt_llm/generate_stream", json=body, timeout=120
    ) as response:
        got = [json.loads(line[6:])["output_ids"] for line in response.iter_lines() if line.startswith("data: ")]
    tokens = [t for item in got for t in (item if isinstance(item, list) else [item])]
    model = AutoModelForCausalLM.from_pretrained(str(assets.tiny_model), dtype=torch.float32).to("cuda:0").eval()
    with torch.inference_mode():
        x = torch.tensor([ids], device="cuda:0")
        out = model.generate(
            x,
            attention_mask=torch.ones_like(x),
            max_new_tokens=24,
            min_new_tokens=24,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=151643,
        )
    expected = out[0, len(ids) :].tolist()
    print(f"tensorrt_llm (rank 0, CUDA) greedy: {tokens}")
    print(f"transformers on cuda:0 greedy:     {expected}")
    print(f"token for token equal: {tokens == expected}")
    text = httpx.post(
        "http://127.0.0.1:18000/v2/models/ensemble/generate",
        json={"text_input": prompt, "max_tokens": 12, "temperature": 0},
        timeout=60,
    ).json()
    print(f"ensemble text: {text}")
    print(
        subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,process_name,used_memory,gpu_uuid", "--format=csv"],
            capture_output=True,
            text=True,
        ).stdout
    )
    for rank in (0, 1):
        log = (work / "run" / f"rank{rank}.log").read_text(errors="replace")
        wanted = [
            line.strip()[-120:]
            for line in log.splitlines()
            if "loading:" in line or "leader-mode" in line or "reference backend" in line
        ]
        print(f"rank {rank}: " + " | ".join(wanted))
    os.kill(serve.pid, signal.SIGTERM)
    code = serve.wait(120)
    print(serve.stdout.read())
    print(f"serve exit code after SIGTERM: {code}; processes left: {alive(tree)}")
    return 0


def assets_ids(tokenizer_dir: Path, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return list(Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).encode(text, add_special_tokens=False).ids)


if __name__ == "__main__":
    sys.exit(main())
