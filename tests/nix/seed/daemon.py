"""A real ``nix-daemon`` (Debian's Nix 2.8) with its own configuration and socket, and the users of the seed:
build users (``nixbld``), a trusted user who types the seed's commands, an untrusted one whose restricted settings
the daemon ignores. Needs root (CI and the development machines run as root); the store is the machine's
``/nix/store``."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.processes import kill_session

BUILD_USERS = 4
TRUSTED = "trtllm-seed"
UNTRUSTED = "trtllm-guest"


@dataclass(frozen=True)
class Daemon:
    conf_dir: Path
    socket: Path
    shim_dir: Path

    def client_env(self, user: str) -> dict[str, str]:
        home = Path(pwd.getpwnam(user).pw_dir)
        return {
            "HOME": str(home),
            "USER": user,
            "LOGNAME": user,
            # Nix 2.8 with `nix build --print-out-paths` (2.9) added: ./nix-2.9-shim
            "PATH": f"{self.shim_dir}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "NIX_CONF_DIR": str(self.conf_dir),  # the client reads the same nix.conf (experimental-features)
            "NIX_REMOTE": "daemon",
            "NIX_DAEMON_SOCKET_PATH": str(self.socket),
            "XDG_RUNTIME_DIR": str(home / ".run"),
        }


def ensure_users() -> None:
    if subprocess.run(["getent", "group", "nixbld"], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", "--system", "nixbld"], check=True)
    for i in range(1, BUILD_USERS + 1):
        if subprocess.run(["id", f"nixbld{i}"], capture_output=True).returncode != 0:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--home-dir", "/var/empty", "--shell", "/usr/sbin/nologin",
                 "--gid", "nixbld", "--groups", "nixbld", f"nixbld{i}"],
                check=True,
            )  # fmt: skip
    for user in (TRUSTED, UNTRUSTED):
        if subprocess.run(["id", user], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", user], check=True)
        home = Path(pwd.getpwnam(user).pw_dir)
        shutil.rmtree(home, ignore_errors=True)  # a new user's home each run: the seed starts from nothing
        (home / ".run").mkdir(parents=True)
        subprocess.run(["chown", "-R", f"{user}:", home], check=True)


def nix_conf(sandbox_paths: list[str], features: list[str]) -> str:
    return "\n".join(
        [
            *([f"extra-system-features = {' '.join(features)}"] if features else []),
            "build-users-group = nixbld",
            "sandbox = true",  # Nix's default on Linux
            "experimental-features = nix-command flakes",
            f"trusted-users = root {TRUSTED}",
            "substituters =",  # no binary cache here
            "extra-sandbox-paths = " + " ".join(sandbox_paths),
            "",
        ]
    )


@contextmanager
def running_daemon(work: Path, sandbox_paths: list[str], features: list[str] | None = None) -> Iterator[Daemon]:
    """A daemon for the seed; ``features``: extra system features of its store (nix-required-mounts adds cuda)."""
    ensure_users()
    conf = work / "etc-nix"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "nix.conf").write_text(nix_conf(sandbox_paths, features or []))
    socket = work / "daemon-socket" / "socket"
    socket.parent.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    env = {**os.environ, "NIX_CONF_DIR": str(conf), "NIX_DAEMON_SOCKET_PATH": str(socket)}
    Path("/nix/var/nix/daemon-socket").mkdir(parents=True, exist_ok=True)
    log = (work / "nix-daemon.log").open("ab")
    process = subprocess.Popen(["nix-daemon"], env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nix-daemon did not start; see {work / 'nix-daemon.log'}")
            time.sleep(0.05)
        socket.parent.chmod(0o755)
        socket.chmod(0o666)
        shim = work / "shim"
        shim.mkdir(exist_ok=True)
        shutil.copy(Path(__file__).with_name("nix-2.9-shim"), shim / "nix")
        shim.chmod(0o755)
        yield Daemon(conf, socket, shim)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            kill_session(process.pid)
            process.wait()
        log.close()
