"""The real seam (``engine/tensorrt_llm_seam.py``, unchanged) runs ``engine build`` against the stand-in
``tensorrt_llm`` of tests/standins, whose signatures and ``trtllm-build`` flags come from upstream_facts.json: a
keyword the pinned TensorRT-LLM does not have, a missing argument or an illegal flag value fails the build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from trtllm_nix.engine.seam import SEAM_ENV
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.checkpoints import make_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDINS = REPO_ROOT / "tests" / "standins"


def standin_env(record: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != SEAM_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(STANDINS), str(REPO_ROOT / "python")])
    env["PATH"] = os.pathsep.join([str(STANDINS / "bin"), env.get("PATH", "")])
    env["TRTLLM_STANDIN_RECORD"] = str(record)
    return env


def _calls(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


@pytest.mark.parametrize("tp", [1, 2])
def test_engine_build_through_the_real_seam(tmp_path: Path, assets: Assets, tp: int) -> None:
    model = make_checkpoint(tmp_path / "ckpt", "NVFP4", "legacy", tokenizer=assets.tokenizer)
    out, record = tmp_path / "engine", tmp_path / "calls.jsonl"
    command = [sys.executable, "-m", "trtllm_nix.cli", "engine", "build", "--model", str(model), "--tp", str(tp)]
    command += ["--out", str(out), "--skip-preflight", "--max-seq-len", "4096", "--max-num-tokens", "2048"]
    result = subprocess.run(command, env=standin_env(record), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = _calls(record)
    mappings = sorted((c["kwargs"] for c in calls if c["call"] == "Mapping"), key=lambda k: k["rank"])  # type: ignore[index]
    assert mappings == [{"world_size": tp, "rank": r, "tp_size": tp, "pp_size": 1} for r in range(tp)]
    quants = [c["kwargs"] for c in calls if c["call"] == "QuantConfig"]
    assert (
        quants
        == [{"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8", "group_size": 16, "exclude_modules": ["lm_head"]}]
        * tp
    )
    assert [c["save_config"] for c in calls if c["call"] == "save_checkpoint"].count(True) == 1
    build = next(c["argv"] for c in calls if c["call"] == "trtllm-build")
    assert build[build.index("--gemm_plugin") + 1] == "nvfp4"  # type: ignore[union-attr]
    engine = json.loads((out / "config.json").read_text())
    assert engine["build_config"]["plugin_config"]["use_paged_context_fmha"] is True
    checked = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "engine", "check", str(out)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout
    assert json.loads((out / "build-info.json").read_text())["tensorrt_llm_version"] == "1.1.0"


def test_the_standin_rejects_what_the_pinned_release_would() -> None:
    code = """
import sys
from tensorrt_llm.mapping import Mapping
from tensorrt_llm.models.modeling_utils import QuantConfig
from tensorrt_llm.commands.build import main
for call in (lambda: Mapping(world_size=2, tp=2), lambda: QuantConfig(quant_algo="NVFP4"),
             lambda: QuantConfig(algo=None), lambda: Mapping(world_size=2, tp_size=1)):
    try:
        call()
    except (TypeError, ValueError) as error:
        print(type(error).__name__, error)
try:
    main(["--checkpoint_dir", "c", "--output_dir", "o", "--gemm_plugin", "fp4"])
except SystemExit as exit:
    print("exit", exit.code)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], env=standin_env(Path(os.devnull)), capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines() == [
        "TypeError Mapping() got an unexpected keyword argument 'tp'",
        "TypeError QuantConfig.quant_algo must be a QuantAlgo or None, got 'NVFP4'",
        "TypeError QuantConfig() got an unexpected keyword argument 'algo'",
        "ValueError world_size must equal tp_size * pp_size * cp_size, got 2 != 1*1*1",
        "exit 2",
    ]
    assert "invalid choice: 'fp4'" in result.stderr


def test_bench_strategy_through_the_real_seam(tmp_path: Path, assets: Assets) -> None:
    model = make_checkpoint(tmp_path / "ckpt", "FP8", "legacy", tokenizer=assets.tokenizer)
    out, record = tmp_path / "engine", tmp_path / "calls.jsonl"
    command = [sys.executable, "-m", "trtllm_nix.cli", "engine", "build", "--model", str(model), "--tp", "2"]
    command += ["--out", str(out), "--skip-preflight", "--strategy", "bench", "--max-seq-len", "4096"]
    result = subprocess.run(command, env=standin_env(record), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    argv = next(c["argv"] for c in _calls(record) if c["call"] == "trtllm-bench")
    assert argv[:6] == ["--model", "ckpt", "--model_path", str(model), "--workspace", argv[5]]  # type: ignore[index]
    assert "ENGINE SAVED" in result.stdout  # the tool's output is teed
    engine = json.loads((out / "config.json").read_text())
    assert engine["pretrained_config"]["quantization"] == {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}
    checked = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "engine", "check", str(out)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout


def test_the_standin_bench_reads_only_the_nested_shape(tmp_path: Path, assets: Assets) -> None:
    model = make_checkpoint(tmp_path / "ckpt", "NVFP4", "flat", tokenizer=assets.tokenizer)
    command = [str(STANDINS / "bin" / "trtllm-bench"), "--model", "m", "--model_path", str(model)]
    command += ["--workspace", str(tmp_path / "w"), "build", "--max_seq_len", "64", "--max_batch_size", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--max_batch_size and --max_num_tokens go together" in result.stderr
    result = subprocess.run([*command, "--max_num_tokens", "64"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "KeyError: 'quantization'" in result.stderr
