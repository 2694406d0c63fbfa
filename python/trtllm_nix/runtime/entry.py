"""The entry program: run a command inside an unpacked image root with bubblewrap, container-like, no daemon.

Inside: the image root as ``/`` (read-only), the host's ``/dev`` (GPUs, ``/dev/shm`` for Triton's Python backend),
``/proc``, ``/sys`` (read-only, where the host has it: a Nix build sandbox has none), ``/tmp``, ``/nix/store``
(read-only) and the work folders the caller names (same path inside as outside, read-write), the host's
``/etc/hosts`` and ``/etc/resolv.conf`` (network is shared, so ports are reachable from outside), a private ``/run``
holding the host's NVIDIA driver files, and the image's own environment with the driver's folders appended. The
process tree is the host's (no PID namespace), so signals, ``PR_SET_PDEATHSIG`` and process-group kills reach
tritonserver directly, and bubblewrap exits with its code.

``python -m trtllm_nix.runtime.entry --root ROOT [--bwrap PATH] [--bind DIR]... [--env NAME=VALUE]... -- CMD...``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from trtllm_nix.errors import SetupError, UserError
from trtllm_nix.processes import die_with_parent
from trtllm_nix.runtime.compat import Compat, decide_compat, host_driver_version
from trtllm_nix.runtime.driver import BIN_INSIDE, Driver, find_driver
from trtllm_nix.runtime.image_config import ImageConfig, locate_runtime, read_image_config

# Variables of the caller that travel inside (the rest of the environment is the image's).
PASSED_THROUGH = ("TERM", "HOME", "USER", "LOGNAME", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "TZ")
PASSED_PREFIXES = ("NCCL_", "OMPI_", "PMIX_", "UCX_", "TRTLLM_", "TLLM_", "HF_", "TRITON_", "TORCH_", "NVSHMEM_")


@dataclass(frozen=True)
class Sandbox:
    """How to enter one image root (made by ``open``); ``command(argv)`` is the full bubblewrap command line."""

    root: Path
    bwrap: str
    binds: tuple[Path, ...]
    extra_env: dict[str, str]
    driver: Driver
    image: ImageConfig
    compat: Compat
    given: Path  # what --runtime named (a runtime folder, or the root itself): what a re-executed entry is given again

    @classmethod
    def open(
        cls, root: Path, bwrap: str | None = None, binds: tuple[Path, ...] = (), extra_env: dict[str, str] | None = None
    ) -> Sandbox:
        given = root
        root, config = locate_runtime(root)
        if not (root / "usr").is_dir() and not (root / "opt").is_dir():
            raise UserError(
                f"--runtime {given} is neither an unpacked image root (no usr/ or opt/ in it) nor a runtime folder "
                "(root/ and image-config.json, nix build .#tritonserver-trtllm)"
            )
        found = bwrap or shutil.which("bwrap")
        if found is None or not os.access(found, os.X_OK):
            raise SetupError(
                f"bubblewrap not found{' at ' + bwrap if bwrap else ' on PATH'}: install it (nixpkgs bubblewrap, "
                "apt-get install bubblewrap) or pass --bwrap PATH"
            )
        image = read_image_config(root, config)
        compat = decide_compat(root, image.environment, host_driver_version())
        return cls(root, found, binds, dict(extra_env or {}), find_driver(), image, compat, given.resolve())

    def environment(self, caller: dict[str, str]) -> dict[str, str]:
        env = dict(self.image.environment)
        env.update(self.driver.environment)
        for name, value in caller.items():
            if name in PASSED_THROUGH or name.startswith(PASSED_PREFIXES):
                env[name] = value
        library_path = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
        # CUDA forward compatibility (runtime/compat.py): the image's compat libcuda before everything else
        first = [self.compat.library_dir] if self.compat.use and self.compat.library_dir else []
        env["LD_LIBRARY_PATH"] = ":".join([*first, *library_path, *self.driver.library_dirs])
        if self.driver.binaries:
            env["PATH"] = ":".join([p for p in env.get("PATH", "/usr/bin:/bin").split(":") if p] + [BIN_INSIDE])
        env.update(self.extra_env)
        return env

    def command(self, argv: list[str], caller: dict[str, str] | None = None, cwd: Path | None = None) -> list[str]:
        args = [self.bwrap, "--tmpfs", "/", *self._root_entries()]
        # /sys may be absent: Nix's build sandbox mounts sysfs only for uid-range builds (linux-derivation-builder.cc)
        args += ["--dev-bind", "/dev", "/dev", "--bind", "/proc", "/proc", "--ro-bind-try", "/sys", "/sys"]
        args += ["--bind", "/tmp", "/tmp", "--tmpfs", "/run"]  # noqa: S108 - the host's /tmp, as a container's volume
        if Path("/nix/store").is_dir():
            args += ["--ro-bind", "/nix/store", "/nix/store"]
        for name in ("hosts", "resolv.conf"):  # the network is the host's, so are its names
            if Path("/etc", name).exists() and (self.root / "etc" / name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        for folder in self.binds:
            args += ["--bind", str(folder), str(folder)]
        for host, inside in (*self.driver.libraries, *self.driver.binaries):
            args += ["--ro-bind", str(host), inside]
        args += ["--die-with-parent", "--clearenv"]
        for name, value in sorted(self.environment(dict(os.environ) if caller is None else caller).items()):
            args += ["--setenv", name, value]
        args += ["--chdir", str(cwd) if cwd is not None else self.image.working_dir, "--", *argv]
        return args

    def _root_entries(self) -> list[str]:
        """The root's entries over a tmpfs ``/`` (as nixpkgs' buildFHSEnv does), so that mount points for /nix,
        /run and the work folders can be made while the root itself stays read-only. A folder of the image that
        holds a work folder (``/home`` for ``/home/me/run``) is opened the same way: a folder on the tmpfs with the
        image's entries bound into it, where bubblewrap can make the work folder's mount point."""
        opened = {
            ancestor
            for folder in self.binds
            for ancestor in folder.parents
            if ancestor != Path("/")
            and (self.root / ancestor.relative_to("/")).is_dir()
            and not (self.root / ancestor.relative_to("/")).is_symlink()
        }
        return self._entries(Path("/"), opened)

    def _entries(self, folder: Path, opened: set[Path]) -> list[str]:
        args: list[str] = []
        for entry in sorted((self.root / folder.relative_to("/")).iterdir()):
            inside = folder / entry.name
            if folder == Path("/") and (entry.name in _OWN_MOUNTS or entry.name.startswith(".")):
                continue
            if entry.is_symlink():
                args += ["--symlink", str(entry.readlink()), str(inside)]
            elif inside in opened:
                args += ["--dir", str(inside), *self._entries(inside, opened)]
            else:
                args += ["--ro-bind", str(entry), str(inside)]
        return args


_OWN_MOUNTS = frozenset({"dev", "proc", "sys", "tmp", "run", "nix"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trtllm_nix.runtime.entry", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="the unpacked image root")
    parser.add_argument("--bwrap", help="bubblewrap binary (default: bwrap on PATH)")
    parser.add_argument("--bind", type=Path, action="append", default=[], help="a work folder, read-write")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE set inside")
    parser.add_argument("--print", action="store_true", help="print the driver found and the command, then exit")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    extra = dict(item.split("=", 1) for item in args.env)
    try:
        sandbox = Sandbox.open(args.root, args.bwrap, tuple(p.resolve() for p in args.bind), extra)
        full = sandbox.command(
            command, cwd=Path.cwd() if any(Path.cwd().is_relative_to(b) for b in sandbox.binds) else None
        )
    except UserError as error:
        print(f"trtllm-nix: {error}", file=sys.stderr)
        return error.exit_code
    if args.print:
        print(f"# driver: {sandbox.driver.source}; image environment: {sandbox.image.source}")
        print(f"# CUDA compat: {'used' if sandbox.compat.use else 'not used'} ({sandbox.compat.reason})")
        print(" ".join(full))
        return 0
    return run_forwarding(full)


def run_forwarding(command: list[str]) -> int:
    """Run bubblewrap and pass SIGTERM/SIGINT/SIGHUP to the command it started (bubblewrap itself does not forward
    signals: it would die and take its child down with SIGKILL, so tritonserver could not shut down cleanly)."""
    child = subprocess.Popen(command, preexec_fn=die_with_parent)

    def forward(signum: int, _: FrameType | None) -> None:
        for pid in _children(child.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    code = child.wait()
    return 128 - code if code < 0 else code


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return []


if __name__ == "__main__":
    sys.exit(main())
