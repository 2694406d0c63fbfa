"""The generated Python models import with only what the server image's Python has: the standard library, numpy,
tokenizers and jinja2 (TensorRT-LLM's requirements bring them), plus trtllm_nix's pure-Python sources. Every other
top-level package (grpc, tritonclient, fastapi, pydantic, torch, ...) is made unimportable in the subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.repository import write_reference_repository

IMAGE_PACKAGES = ["numpy", "tokenizers", "jinja2", "markupsafe", "trtllm_nix"]
PROBE = """
import importlib.abc, json, runpy, sys
allowed = set(sys.stdlib_module_names) | set(json.loads(sys.argv[1]))
class OnlyTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in allowed:
            raise ImportError(f"{name} is not in the image's Python")
        return None
sys.meta_path.insert(0, OnlyTheImage())
for model in sys.argv[2:]:
    namespace = runpy.run_path(model)
    print(model.split("/")[-3], namespace["TritonPythonModel"].__module__)
print("grpc loaded:", any(m.partition(".")[0] in ("grpc", "tritonclient") for m in sys.modules))
"""


def test_each_generated_model_imports_without_grpc_or_tritonclient(tmp_path: Path, assets: Assets) -> None:
    repo = write_reference_repository(tmp_path / "repo", "scripted", assets.tokenizer)
    models = [str(repo / name / "1" / "model.py") for name in ("preprocessing", "postprocessing", "ensemble")]
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, json.dumps(IMAGE_PACKAGES), *models],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "preprocessing trtllm_nix.triton_models.preprocessing",
        "postprocessing trtllm_nix.triton_models.postprocessing",
        "ensemble trtllm_nix.triton_models.text_generation",
        "grpc loaded: False",
    ]


def test_the_probe_can_fail(tmp_path: Path) -> None:
    model = tmp_path / "m" / "1" / "model.py"
    model.parent.mkdir(parents=True)
    model.write_text("import grpc\nTritonPythonModel = None\n")
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, json.dumps(IMAGE_PACKAGES), str(model)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "grpc is not in the image's Python" in result.stderr
