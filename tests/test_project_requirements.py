"""scripts/project-requirements: what the Makefile installs before xgrammar and the project go in with --no-deps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "project-requirements"


def _lines(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def test_the_testkits_dev_set_expands_the_products_extras_and_leaves_xgrammar_out() -> None:
    lines = _lines("--project", "trtllm-nix-testkit", "dev", "--without", "xgrammar")
    names = [line.split("[")[0].split("=")[0].split(">")[0] for line in lines]
    assert "torch" in names  # a testkit dependency (the reference backend)
    assert "openai" in names  # the testkit's dev extra
    assert "fastapi" in names  # a product dependency, through trtllm-nix[postgresql,pytorch-lane]
    assert {"psycopg", "smg-grpc-proto"} <= set(names)  # those two extras
    assert not any(name in ("xgrammar", "trtllm-nix", "trtllm-nix-testkit") for name in names)
    assert len(names) == len(set(names))


def test_the_products_requirements_carry_no_test_machinery() -> None:
    names = {line.split("[")[0].split("=")[0].split(">")[0] for line in _lines("postgresql", "pytorch-lane")}
    assert not names & {"torch", "nvidia-pytriton", "pytest", "transformers"}


def test_without_extras_it_is_the_dependencies() -> None:
    assert any(line.startswith("xgrammar") for line in _lines())
