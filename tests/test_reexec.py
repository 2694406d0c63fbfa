"""Our own modules started again in a child, from a program installed the nixpkgs way: a bare interpreter whose
import path comes from ``site.addsitedir`` lines patched into the script (wrap.sh ``patchPythonScript``), with no
PYTHONPATH. ``python -m trtllm_nix...`` finds nothing there; :func:`module_command` carries the path along."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

BARE = os.path.realpath(sys.executable)  # the interpreter itself, outside the virtualenv
PROGRAM = """\
import site, subprocess, sys
site.addsitedir({site!r})  # what nixpkgs patches into the script
from trtllm_nix.reexec import module_command
old = subprocess.run([sys.executable, "-m", "trtllm_nix.runtime.entry", "--help"], capture_output=True, text=True)
new = subprocess.run([*module_command("trtllm_nix.runtime.entry"), "--help"], capture_output=True, text=True)
print(repr((old.returncode, old.stderr[-200:], new.returncode, new.stdout[:200])))
"""


def test_a_nixpkgs_style_program_starts_the_runtime_entry(tmp_path: Path) -> None:
    program = tmp_path / "trtllm-nix"
    program.write_text(PROGRAM.format(site=sysconfig.get_paths()["purelib"]))
    env = {"PATH": os.environ["PATH"], "PYTHONNOUSERSITE": "true"}  # what the wrapper sets, and nothing else
    result = subprocess.run([BARE, str(program)], env=env, capture_output=True, text=True, timeout=60, check=True)
    old_code, old_err, new_code, new_out = eval(result.stdout)
    assert old_code == 1, "the re-exec the seed failed with"
    assert "No module named 'trtllm_nix'" in old_err
    assert new_code == 0, new_out
    assert "--root ROOT" in new_out


def test_the_path_travels_on_the_command_line_not_in_the_environment() -> None:
    from trtllm_nix.reexec import module_command

    command = module_command("trtllm_nix.cli")
    assert command[:2] == [sys.executable, "-c"]
    assert command[3] == "trtllm_nix.cli", "the module is a word of its own: ps and pkill -f see what runs"
    result = subprocess.run(
        [*command, "--version"], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert all(entry in command[2] for entry in sys.path if entry)
