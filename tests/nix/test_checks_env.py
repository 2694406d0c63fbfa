"""checks.unit-tests runs pytest in nixpkgs' python3.withPackages environment: everything the listed tests import
at module level (through conftest.py files, tests.* helpers and trtllm_nix modules) must be in it. withPackages
keeps only Python modules, so an application like trtllm-nix itself is dropped unless made a module."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from tests.nix.standin import REPO, outputs

# import name -> nixpkgs Python package name
DISTRIBUTIONS = {
    "numpy": "numpy",
    "pytest": "pytest",
    "hypothesis": "hypothesis",
    "openai": "openai",
    "torch": "torch",
    "safetensors": "safetensors",
    "tokenizers": "tokenizers",
    "tritonclient": "tritonclient",
    "grpc": "grpcio",
    "google": "protobuf",
    "jinja2": "jinja2",
    "fastapi": "fastapi",
    "starlette": "starlette",
    "pydantic": "pydantic",
    "uvicorn": "uvicorn",
    "httpx": "httpx",
    "prometheus_client": "prometheus-client",
    "pynvml": "nvidia-ml-py",
    "huggingface_hub": "huggingface-hub",
    "trtllm_nix": "trtllm-nix",
}
LOCAL = {"tests": REPO, "trtllm_nix": REPO / "python"}


def module_file(name: str) -> Path | None:
    top = name.split(".")[0]
    if top not in LOCAL:
        return None
    base = LOCAL[top].joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def module_level_imports(path: Path) -> set[str]:
    """Imports run when the module is loaded: top level and inside top-level try blocks, not TYPE_CHECKING."""
    names: set[str] = set()
    body = list(ast.parse(path.read_text()).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Try):
            body.extend(node.body)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_distributions(test_files: list[str]) -> set[str]:
    start = [REPO / f for f in test_files]
    for f in list(start):
        folder = f.parent
        while folder != REPO:
            if (folder / "conftest.py").exists():
                start.append(folder / "conftest.py")
            folder = folder.parent
    seen: set[Path] = set()
    third_party: set[str] = set()
    todo = start
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in module_level_imports(path):
            top = name.split(".")[0]
            local = module_file(name)
            if local is not None:
                todo.append(local)
            elif top not in LOCAL and top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    assert "trtllm_nix_testkit" not in third_party, (
        "the Nix checks run without the testkit: import it inside the fixtures that use it, or leave the test out"
    )
    missing = third_party - set(DISTRIBUTIONS)
    assert not missing, f"add the nixpkgs name of {missing} to DISTRIBUTIONS"
    return {DISTRIBUTIONS[top] for top in third_party} | {"trtllm-nix"}


def test_the_walk_sees_what_the_tests_import() -> None:
    needed = imported_distributions(["tests/engine/test_quant.py", "tests/proxy/formats/test_qwen3.py"])
    assert {"torch", "safetensors", "openai", "hypothesis", "pytest", "tokenizers", "trtllm-nix"} <= needed


CHECK = 'self.checks."x86_64-linux".unit-tests'


def unit_tests_recorded() -> tuple[list[str], list[str]]:
    """The test files the check's script runs, and the Python modules of the environment it puts on PATH."""
    script = outputs(f"{CHECK}.standin.args.buildCommand")
    envs = outputs(f"map (d: d.modules) (builtins.filter (d: d ? modules) {CHECK}.standin.args.nativeBuildInputs)")
    assert len(envs) == 1, "one python3.withPackages environment"
    return re.findall(r"tests/[\w/]+\.py", script), envs[0]


def test_unit_tests_environment_imports_what_its_tests_import() -> None:
    tests, modules = unit_tests_recorded()
    assert tests
    for test in tests:
        assert (REPO / test).is_file(), test
    needed = imported_distributions(tests)
    assert needed - set(modules) == set(), "missing from the check's environment"
