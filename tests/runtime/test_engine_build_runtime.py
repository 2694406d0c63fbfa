"""``trtllm-nix engine build --runtime ROOT``: the real seam's conversion and ``trtllm-build`` run inside the image
root (the stand-in Debian root, with the stand-in ``tensorrt_llm`` of tests/standins bound in), the orchestration
outside; the build log is teed to stdout and, with the staging folder, survives a failed build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trtllm_nix.assets.build import Assets
from trtllm_nix.engine.seam import SEAM_ENV

from tests.engine.checkpoints import make_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDINS = REPO_ROOT / "tests" / "standins"


def _build(tmp_path: Path, root: Path, assets: Assets, path_inside: str) -> subprocess.CompletedProcess[str]:
    model = make_checkpoint(tmp_path / "ckpt", "FP8", "legacy", tokenizer=assets.tokenizer)
    env = {k: v for k, v in os.environ.items() if k != SEAM_ENV}
    env["TRTLLM_STANDIN_RECORD"] = str(tmp_path / "calls.jsonl")  # TRTLLM_* travels inside
    command = [
        sys.executable, "-m", "trtllm_nix.cli", "engine", "build", "--runtime", str(root), "--model", str(model),
        "--tp", "2", "--out", str(tmp_path / "engine"), "--skip-preflight", "--max-seq-len", "2048",
        "--bind", str(STANDINS), "--runtime-env", f"PYTHONPATH={STANDINS}", "--runtime-env", f"PATH={path_inside}",
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


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
