"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` binaries (``scripts/ensure-system-packages``
installs them), ``initdb`` into a fresh folder and ``pg_ctl`` on a free loopback port, no Unix socket, trust
authentication on 127.0.0.1 only, nothing touched outside that folder (no system cluster, no service).

PostgreSQL refuses to run as root. When the tests run as root, the server runs as the ``postgres`` user that
Debian's package creates (``runuser -u postgres``), in a folder under /tmp made for it and given to it (pytest's
own tmp folders are private to root). As any other user it runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from trtllm_nix.triton.ports import free_ports

SERVER_USER = "postgres"  # Debian's postgresql package makes it; used only when the tests run as root


def binaries() -> Path:
    """The newest installed server's bin folder (``/usr/lib/postgresql/<major>/bin``)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL's server binaries are missing: apt-get install postgresql (or make setup)")
    return Path(initdb).resolve().parent


class PostgresServer:
    """``with PostgresServer() as server: server.url``; ``restart()`` keeps the data."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="trtllm-nix-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._as_root = os.geteuid() == 0
        if self._as_root:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise RuntimeError(
                    f"PostgreSQL does not run as root, and there is no {SERVER_USER!r} user to run it as: "
                    "apt-get install postgresql (it adds one), or run the tests as another user"
                ) from None
            os.chown(self.root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self._as_root else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

    def start(self, port: int | None = None) -> None:
        if not self.data.exists():
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
        for attempt in range(3):  # the port was free a moment ago; another process may take it first
            self.port = port if port is not None and attempt == 0 else free_ports(1)[0]
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                          "-t", "60", "start")  # fmt: skip
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port (its clients' connections break; the data stays)."""
        self.stop()
        self.start(self.port)

    def connect(self) -> Any:
        """An autocommit connection to the ``postgres`` database, as its superuser."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def create_database(self, name: str) -> str:
        with self.connect() as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
