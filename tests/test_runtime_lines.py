"""The catalog's two runtime lines, the seam docstring and the README agree with the upstream facts."""

from __future__ import annotations

import json
from pathlib import Path

from trtllm_nix.catalog import catalog
from trtllm_nix.engine import tensorrt_llm_seam

from tests.upstream import facts

README = Path(__file__).resolve().parents[1] / "README.md"


def test_catalog_lines_match_the_containers() -> None:
    containers = facts()["triton"]["containers"]
    runtime = catalog()["runtime"]
    assert containers[runtime["image"].split(":")[1].split("-")[0]]["tensorrt_llm"] == runtime["tensorrt_llm"]
    for tag, line in runtime["choices"].items():
        assert f"tritonserver:{tag}-trtllm-python-py3" in line
        assert f"TensorRT-LLM {containers[tag]['tensorrt_llm']}" in line


def test_seam_docstring_and_readme_name_the_lines() -> None:
    doc = " ".join((tensorrt_llm_seam.__doc__ or "").split())
    readme = " ".join(README.read_text().split())
    for text in (doc, readme):
        assert "26.03 ships 1.2.0" in text
        assert "26.04-26.07 ship 1.2.1" in text
        assert "1.1.x and 1.2.x" in text
    assert json.dumps(facts()["triton"]["engine_path_lines"]) == '["1.1.x", "1.2.x"]'
