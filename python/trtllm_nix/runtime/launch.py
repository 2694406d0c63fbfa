"""``--runtime ROOT``: the planned launch (tritonserver, or the image's mpirun with one rank each) run inside the
image root through the entry program. Only this module and the engine seam know how the runtime is entered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import trtllm_nix
from trtllm_nix.launch.plan import Launch
from trtllm_nix.reexec import module_command
from trtllm_nix.runtime.entry import Sandbox

TRITONSERVER_INSIDE = "/opt/tritonserver/bin/tritonserver"
BACKENDS_INSIDE = Path("/opt/tritonserver/backends")
PYTHON_INSIDE = "python3"


def open_sandbox(root: Path, bwrap: str | None, binds: tuple[Path, ...]) -> Sandbox:
    """The sandbox with ``binds`` and the folder holding the ``trtllm_nix`` package (pure Python) bound, that on
    PYTHONPATH inside (for the rank wrapper and the seam worker)."""
    sources = Path(trtllm_nix.__file__).resolve().parent.parent
    folders = tuple(dict.fromkeys(p.resolve() for p in (*binds, sources)))
    return Sandbox.open(root, bwrap, folders, {"PYTHONPATH": str(sources)})


def entry_command(sandbox: Sandbox, command: list[str], env: dict[str, str]) -> list[str]:
    """``python -m trtllm_nix.runtime.entry ... -- COMMAND``: the entry stays the parent and forwards signals."""
    args = [*module_command("trtllm_nix.runtime.entry"), "--root", str(sandbox.given), "--bwrap", sandbox.bwrap]
    for folder in sandbox.binds:
        args += ["--bind", str(folder)]
    for name, value in sorted({**sandbox.extra_env, **env}.items()):
        args += ["--env", f"{name}={value}"]
    return [*args, "--", *command]


def inside(launch: Launch, sandbox: Sandbox) -> Launch:
    """The same launch, entered: the planned environment's changes travel in; the rest is the image's."""
    return replace(launch, command=entry_command(sandbox, launch.command, launch.changes))
