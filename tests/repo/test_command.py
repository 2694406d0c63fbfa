"""``trtllm-nix repo generate`` refuses bad input with one line and a non-zero exit, writing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from trtllm_nix_testkit.assets.build import Assets

from tests.repo.engines import engine_config, make_engine


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "repo", "generate", *args], capture_output=True, text=True, timeout=120
    )


def _assert_refused(result: subprocess.CompletedProcess[str], message: str, out: Path) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert not out.exists() or not any(out.iterdir())
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert leftovers == []


def test_generates_a_repository(tmp_path: Path, assets: Assets) -> None:
    engine = make_engine(tmp_path / "engine", engine_config(tp=2, max_batch_size=16))
    result = _generate("--engine", str(engine), "--tokenizer", str(assets.tokenizer), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "world size 2, max_batch_size 16" in result.stdout
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["engine"]["path"] == str(engine.resolve())


def _hf_config(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 5120}))
    return folder


CASES = {
    "no config.json": (lambda t: (t / "empty").mkdir() or t / "empty", [], "config.json is missing"),
    "a Hugging Face config": (lambda t: _hf_config(t / "hf"), [], "is a Hugging Face model config"),
    "missing ranks": (
        lambda t: make_engine(t / "e", engine_config(tp=4), skip_ranks=(2, 3)),
        [],
        "built for TP 4 x PP 1 = 4 ranks but rank2.engine, rank3.engine are missing",
    ),
    "fraction above 1": (
        lambda t: make_engine(t / "e"),
        ["--kv-cache-free-gpu-mem-fraction", "1.5"],
        "kv_cache_free_gpu_mem_fraction must be in (0, 1], got 1.5",
    ),
    "fraction zero": (lambda t: make_engine(t / "e"), ["--kv-cache-free-gpu-mem-fraction", "0"], "must be in (0, 1]"),
    "batch size zero": (
        lambda t: make_engine(t / "e"),
        ["--max-batch-size", "0"],
        "--max-batch-size must be at least 1",
    ),
    "batch above the engine's": (
        lambda t: make_engine(t / "e"),
        ["--max-batch-size", "64"],
        "--max-batch-size 64 exceeds the engine's max_batch_size 8",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_engine_or_options_are_refused(tmp_path: Path, assets: Assets, case: str) -> None:
    make, extra, message = CASES[case]
    engine = make(tmp_path)
    out = tmp_path / "out"
    result = _generate("--engine", str(engine), "--tokenizer", str(assets.tokenizer), "--out", str(out), *extra)
    _assert_refused(result, message, out)


def test_tokenizer_folder_without_tokenizer(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "e")
    (tmp_path / "tok").mkdir()
    out = tmp_path / "out"
    result = _generate("--engine", str(engine), "--tokenizer", str(tmp_path / "tok"), "--out", str(out))
    _assert_refused(result, "has no tokenizer.json", out)


def test_non_empty_out_needs_force(tmp_path: Path, assets: Assets) -> None:
    engine = make_engine(tmp_path / "e")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _generate("--engine", str(engine), "--tokenizer", str(assets.tokenizer), "--out", str(out))
    assert result.returncode == 2
    assert "--out" in result.stderr
    assert "is not empty; pass --force" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"
    forced = _generate("--engine", str(engine), "--tokenizer", str(assets.tokenizer), "--out", str(out), "--force")
    assert forced.returncode == 0
    assert not (out / "keep.txt").exists()
    assert (out / "manifest.json").is_file()
