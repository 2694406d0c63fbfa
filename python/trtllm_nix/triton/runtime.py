"""Locate a tritonserver and prepare what it needs to run Python-backend models on this interpreter.

The ``nvidia-pytriton`` wheel bundles tritonserver 2.51 but keeps the Python backend's stubs per Python version
in ``python_backend_stubs/<major.minor>/``; the stub must sit next to ``libtriton_python.so``, find the wheel's
libraries through ``LD_LIBRARY_PATH``, load a libpython that matches this interpreter exactly, and find this
virtual environment through ``PATH`` (the stub runs Python in isolated mode, so ``PYTHONPATH`` is ignored).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import SetupError

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
_BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")


@dataclass(frozen=True)
class TritonRuntime:
    """A tritonserver binary plus the Python backend files and shared libraries that go with it."""

    binary: Path
    python_backend: Path
    stub: Path
    library_dirs: tuple[Path, ...]

    @classmethod
    def from_wheel(cls) -> TritonRuntime:
        """The tritonserver bundled in the installed ``nvidia-pytriton`` wheel."""
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise SetupError(
                "tritonserver not found: put one on PATH, pass --tritonserver or --runtime, or install "
                "nvidia-pytriton==0.7.0 (the wheel that bundles tritonserver 2.51; `make setup` does)"
            )
        package = Path(next(iter(spec.submodule_search_locations)))
        root = package / "tritonserver"
        binary = root / "bin" / "tritonserver"
        stub = root / "python_backend_stubs" / PYTHON_VERSION / "triton_python_backend_stub"
        libs = package.parent / "nvidia_pytriton.libs"
        for needed in (binary, stub, root / "backends" / "python" / _BACKEND_FILES[0]):
            if not needed.exists():
                raise SetupError(f"the nvidia-pytriton wheel lacks {needed}; reinstall nvidia-pytriton==0.7.0")
        return cls(binary=binary, python_backend=root / "backends" / "python", stub=stub, library_dirs=(libs,))

    def prepare_backend_dir(self, dest: Path) -> Path:
        """A backend folder whose ``python/`` holds the backend library, its utils and the matching stub."""
        python_dir = dest / "python"
        python_dir.mkdir(parents=True, exist_ok=True)
        for name in _BACKEND_FILES:
            _copy_if_changed(self.python_backend / name, python_dir / name)
        _copy_if_changed(self.stub, python_dir / "triton_python_backend_stub")
        (python_dir / "triton_python_backend_stub").chmod(0o755)
        return dest

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The server's environment: this interpreter's libpython first, the wheel's libraries, this venv on PATH."""
        env = dict(os.environ if base is None else base)
        libdir = sysconfig.get_config_var("LIBDIR")
        library_path = [str(libdir)] if libdir else []
        library_path += [str(d) for d in self.library_dirs]
        if env.get("LD_LIBRARY_PATH"):
            library_path.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = ":".join(library_path)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
        return env


def _copy_if_changed(source: Path, dest: Path) -> None:
    if (
        dest.exists()
        and dest.stat().st_size == source.stat().st_size
        and dest.stat().st_mtime >= source.stat().st_mtime
    ):
        return
    shutil.copy2(source, dest)
