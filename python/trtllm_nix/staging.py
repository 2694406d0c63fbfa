"""Folders that appear whole or not at all: built beside their destination, then swapped in by a rename."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def replace_folder(new: Path, dest: Path) -> None:
    """Put ``new`` where ``dest`` is, replacing what was there (same filesystem: a rename)."""
    if dest.exists():
        shutil.rmtree(dest)
    new.rename(dest)


@contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """An empty folder beside ``dest`` to fill; when the block succeeds it replaces ``dest``, when it fails it is
    removed and ``dest`` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield staging
        replace_folder(staging, dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
