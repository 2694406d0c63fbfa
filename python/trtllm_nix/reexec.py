"""Starting our own modules again in a child process, with this process's import path.

nixpkgs installs a Python application by patching ``site.addsitedir(...)`` lines for the package and each of its
dependencies into the script itself; its wrapper sets only ``PATH`` and ``PYTHONNOUSERSITE``
(pkgs/development/interpreters/python/wrap.sh, ``patchPythonScript``). So ``sys.executable`` there is a bare
interpreter: ``python -m trtllm_nix...`` finds neither our package nor its dependencies. The path therefore travels
on the command line, not in the environment (a child's environment is often rebuilt, e.g. for tritonserver).
"""

from __future__ import annotations

import os
import sys


def module_command(module: str) -> list[str]:
    """``python -m MODULE`` for this interpreter, importing from exactly this process's ``sys.path``.

    The module stays a word of its own on the command line (``python -c BOOT MODULE ARGS...``), so process listings
    and ``pkill -f`` still name what runs."""
    path = os.pathsep.join(entry for entry in sys.path if entry)
    boot = (  # addsitedir, as the patched script does: .pth files (an editable install's finder) count too
        "import runpy, site, sys; "
        f"[site.addsitedir(p) for p in {path!r}.split({os.pathsep!r}) if p not in sys.path]; "
        "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", boot, module]
