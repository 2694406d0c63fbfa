"""The seed's engine folders (what ``trtllm-build --output_dir`` writes, tokenizer files beside ``config.json``,
no ``tokenizer/``) are accepted as they are by ``engine check``, ``repo generate`` and ``doctor``; the repository
generated from one is what ``serve`` reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from trtllm_nix.engine.sizes import QWEN3_32B_CONFIG
from trtllm_nix.gpus import Gpu, GpuInventory
from trtllm_nix_testkit.assets.build import Assets

from tests.engine.fake_tools import arch_fields, write_engine

B200 = GpuInventory(tuple(Gpu(i, "NVIDIA B200", (10, 0), 180 << 30, 170 << 30) for i in range(2)), "580")


def _seed_engine(folder: Path, assets: Assets) -> Path:
    pretrained = {
        "architecture": "QWenForCausalLM",
        **arch_fields(QWEN3_32B_CONFIG),
        "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8"},
    }
    build = {"max_batch_size": 8, "max_seq_len": 16384, "max_num_tokens": 8192}
    write_engine(folder, pretrained, {**build, "plugin_config": {"use_paged_context_fmha": True}})
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copyfile(assets.tokenizer / name, folder / name)
    return folder


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_seed_layout_checks_generates_and_doctors(tmp_path: Path, assets: Assets) -> None:
    engine = _seed_engine(tmp_path / "engine", assets)
    checked = _cli("engine", "check", str(engine))
    assert checked.returncode == 0, checked.stdout
    assert f"ok   tokenizer: {engine} has a tokenizer" in checked.stdout

    repo = tmp_path / "repo"
    generated = _cli("repo", "generate", "--engine", str(engine), "--out", str(repo))  # no --tokenizer
    assert generated.returncode == 0, generated.stderr
    manifest = json.loads((repo / "manifest.json").read_text())
    assert manifest["tokenizer"]["path"] == str(engine.resolve())
    assert manifest["limits"]["max_input_len"] == 16384  # chunked context on: longer than max_num_tokens
    assert manifest["options"]["enable_chunked_context"] is True

    from trtllm_nix.doctor import diagnose

    findings = diagnose(engine, repo, None, B200)
    assert all(f.ok for f in findings), [f.line() for f in findings if not f.ok]
    assert {"GPU 0 architecture", "GPU 1 memory", "tokenizer", "tokenizer files"} <= {f.check for f in findings}


def test_a_folder_without_any_tokenizer_is_one_line(tmp_path: Path, assets: Assets) -> None:
    engine = _seed_engine(tmp_path / "engine", assets)
    (engine / "tokenizer.json").unlink()
    generated = _cli("repo", "generate", "--engine", str(engine), "--out", str(tmp_path / "repo"))
    assert generated.returncode != 0
    assert generated.stderr.strip().splitlines() == [
        f"trtllm-nix repo: error: {engine} has no tokenizer (neither tokenizer/ nor tokenizer.json beside "
        "config.json); pass --tokenizer"
    ]
    checked = _cli("engine", "check", str(engine))
    assert checked.returncode == 1
    assert "FAIL tokenizer: neither" in checked.stdout


def test_the_proxy_limit_comes_from_the_engine_built(tmp_path: Path, assets: Assets) -> None:
    from trtllm_nix.llm.limits import read_engine_limits

    engine = _seed_engine(tmp_path / "engine", assets)
    on, off = tmp_path / "on", tmp_path / "off"
    assert _cli("repo", "generate", "--engine", str(engine), "--out", str(on)).returncode == 0
    assert (
        _cli("repo", "generate", "--engine", str(engine), "--out", str(off), "--no-enable-chunked-context").returncode
        == 0
    )
    assert read_engine_limits(on).max_input_len == 16384
    assert read_engine_limits(off).max_input_len == 8192  # one context step: max_num_tokens
