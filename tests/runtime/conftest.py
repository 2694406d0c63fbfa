"""The stand-in image root (Debian userland + tritonserver 2.51 at /opt/tritonserver), built once into .cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def standin_root() -> Path:
    root = REPO_ROOT / ".cache" / "standin-root"
    subprocess.run([REPO_ROOT / "scripts" / "build-standin-root", root, sys.executable], check=True, timeout=1800)
    return root
