"""The path of a streamed chat request before its answer starts (issue 34, ``bench/request_path.py``): the serving
function asks each concept once, in order, so no module is bounced back to more than three times."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from trtllm_nix_testkit.assets.build import Assets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def measured(assets: Assets) -> str:
    bench = ROOT / "bench" / "request_path.py"
    run = subprocess.run([sys.executable, str(bench)], capture_output=True, text=True, check=True, timeout=120)
    return run.stdout


def test_a_chat_request_is_prepared_with_at_most_three_returns(measured: str) -> None:
    prepare = measured.splitlines()[0]  # "prepare: M modules, V visits, R returns"
    returns = int(prepare.split(", ")[2].split()[0])
    assert returns <= 3, measured


def test_each_preparation_concept_is_visited_once(measured: str) -> None:
    path = measured.splitlines()[1].strip().split(" -> ")
    for module in ("proxy.serving.checks", "proxy.served", "llm.model_files", "proxy.serving.conversation"):
        assert path.count(module) == 1, (module, path)
