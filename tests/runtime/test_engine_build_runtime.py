"""``trtllm-nix engine build --runtime ROOT``: the real seam's conversion and ``trtllm-build`` run inside the image
root (the stand-in Debian root, with the stand-in ``tensorrt_llm`` of tests/standins bound in), the orchestration
outside; the build log is teed to stdout and, with the staging folder, survives a failed build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trtllm_nix.engine.seam import SEAM_ENV
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.checkpoints import make_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDINS = REPO_ROOT / "tests" / "standins"


NVML = REPO_ROOT / "tests" / "nix" / "seed" / "image"  # the stand-in image's pynvml: four B200s


def _build(
    tmp_path: Path, root: Path, assets: Assets, path_inside: str, preflight: bool = False, quant: str = "FP8"
) -> subprocess.CompletedProcess[str]:
    model = make_checkpoint(tmp_path / "ckpt", quant, "legacy", tokenizer=assets.tokenizer)  # type: ignore[arg-type]
    env = {k: v for k, v in os.environ.items() if k != SEAM_ENV}
    env["TRTLLM_STANDIN_RECORD"] = str(tmp_path / "calls.jsonl")  # TRTLLM_* travels inside
    python_path = f"{STANDINS}:{NVML}" if preflight else str(STANDINS)
    command = [
        sys.executable, "-m", "trtllm_nix.cli", "engine", "build", "--runtime", str(root), "--model", str(model),
        "--tp", "2", "--out", str(tmp_path / "engine"), "--max-seq-len", "2048",
        "--bind", str(STANDINS), "--bind", str(NVML), "--runtime-env", f"PYTHONPATH={python_path}",
        "--runtime-env", f"PATH={path_inside}", *([] if preflight else ["--skip-preflight"]),
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_preflight_reads_the_gpus_inside_the_runtime(tmp_path: Path, standin_root: Path, assets: Assets) -> None:
    """A Nix-built Python outside finds no driver on a host that is not NixOS (nixpkgs' nvidia-ml-py looks only on
    the default path and in /run/opengl-driver); the image's NVML with the driver the entry binds does. Here the
    image's NVML is the stand-in (four B200s) and this machine has no GPU at all."""
    result = _build(tmp_path, standin_root, assets, f"{STANDINS / 'bin'}:/usr/local/bin:/usr/bin:/bin", True, "NVFP4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "preflight: GPU 0: NVIDIA B200, SM100" in result.stdout
    assert "preflight: GPU 1: NVIDIA B200, SM100" in result.stdout
    assert "driver 580.00.00-standin; 2 rank(s)" in result.stdout


def test_a_build_without_gpus_in_a_nix_sandbox_names_both_routes(
    tmp_path: Path, standin_root: Path, assets: Assets
) -> None:
    env = {**os.environ, "NIX_BUILD_TOP": str(tmp_path), "TRTLLM_STANDIN_GPUS": "0"}
    model = make_checkpoint(tmp_path / "ckpt", "NVFP4", "legacy", tokenizer=assets.tokenizer)
    command = [
        sys.executable, "-m", "trtllm_nix.cli", "engine", "build", "--runtime", str(standin_root),
        "--model", str(model), "--tp", "1", "--out", str(tmp_path / "engine"), "--max-seq-len", "2048",
        "--bind", str(NVML), "--runtime-env", f"PYTHONPATH={NVML}",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 5, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "no GPU" in line
    assert "--option sandbox false as a trusted user" in line
    assert ".sandboxed" in line
    assert "nix-required-mounts" in line


def test_engine_build_runs_the_seam_inside_the_image(tmp_path: Path, standin_root: Path, assets: Assets) -> None:
    result = _build(tmp_path, standin_root, assets, f"{STANDINS / 'bin'}:/usr/local/bin:/usr/bin:/bin")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert {c["call"] for c in calls} >= {"Mapping", "QuantConfig", "from_hugging_face", "save_checkpoint"}
    assert "trtllm-build" in {c["call"] for c in calls}
    assert all(c["in_image"] for c in calls), "every tensorrt_llm call ran inside the image root"
    assert sorted(c["kwargs"]["rank"] for c in calls if c["call"] == "Mapping") == [0, 1]
    teed = "Total time of building all engines: stand-in (2 rank(s))"
    assert teed in result.stdout
    assert teed in (tmp_path / "engine.build.log").read_text()
    info = json.loads((tmp_path / "engine" / "build-info.json").read_text())
    assert info["tensorrt_llm_version"] == "1.1.0"  # asked inside: there is no tensorrt_llm outside
    checked = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "engine", "check", str(tmp_path / "engine")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout


def test_a_failed_build_inside_says_where_its_log_is(tmp_path: Path, standin_root: Path, assets: Assets) -> None:
    result = _build(tmp_path, standin_root, assets, "/usr/bin:/bin")  # no trtllm-build inside
    assert result.returncode != 0
    log, kept = tmp_path / "engine.build.log", tmp_path / "engine.failed-build"
    assert result.stderr.strip().splitlines() == [
        f"trtllm-nix engine: error: trtllm-build exited with code 1 (log: {log}); the staging folder is kept at {kept}"
    ]
    assert "trtllm-build" in log.read_text()
    assert sorted(p.name for p in (kept / "checkpoint").iterdir()) == [
        "config.json",
        "rank0.safetensors",
        "rank1.safetensors",
    ]
    assert not (tmp_path / "engine").exists()
