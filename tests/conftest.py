"""Session fixtures: generated assets, and real tritonservers running the reference backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from tokenizers import Tokenizer
from trtllm_nix.triton.runtime import TritonRuntime

from tests.helpers import RunningTriton
from tests.postgres import PostgresServer

if TYPE_CHECKING:  # the testkit is imported by the fixtures that use it: the Nix checks' tests run without it
    from trtllm_nix_testkit.assets.build import Assets

REPO_ROOT = Path(__file__).resolve().parent.parent

# Property tests: no per-example deadline (on a loaded 2-core CI machine an example can pass 200 ms: a failure of the
# machine, not of the code) and the same examples every run, so CI says the same thing twice. HYPOTHESIS_PROFILE=explore
# draws new examples (what to run when hunting; a failure prints the example to pin with @example).
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def assets() -> Assets:
    from trtllm_nix_testkit.assets.build import default_cache_dir, ensure_assets

    configured = os.environ.get("TRTLLM_NIX_CACHE")
    return ensure_assets(default_cache_dir() if configured else REPO_ROOT / ".cache" / "trtllm-nix")


@pytest.fixture(scope="session")
def tokenizer(assets: Assets) -> Tokenizer:
    return Tokenizer.from_file(str(assets.tokenizer / "tokenizer.json"))


@pytest.fixture(scope="session")
def runtime() -> TritonRuntime:
    return TritonRuntime.from_wheel()


def _start(tmp: Path, runtime: TritonRuntime, assets: Assets, mode: str) -> Iterator[RunningTriton]:
    from trtllm_nix_testkit.repository import write_reference_repository
    from trtllm_nix_testkit.triton_server import TritonServer

    stats = tmp / "stats.json"
    repo = write_reference_repository(tmp / "repo", mode, assets.tokenizer, assets.tiny_model, stats)  # type: ignore[arg-type]
    with TritonServer(runtime, repo, tmp / "work") as server:
        yield RunningTriton(server, stats)


@pytest.fixture(scope="session")
def scripted_triton(
    tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets
) -> Iterator[RunningTriton]:
    yield from _start(tmp_path_factory.mktemp("scripted"), runtime, assets, "scripted")


@pytest.fixture(scope="session")
def hf_triton(
    tmp_path_factory: pytest.TempPathFactory, runtime: TritonRuntime, assets: Assets
) -> Iterator[RunningTriton]:
    yield from _start(tmp_path_factory.mktemp("hf"), runtime, assets, "hf")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the session (tests.postgres); each test makes its own database."""
    with PostgresServer() as server:
        yield server
