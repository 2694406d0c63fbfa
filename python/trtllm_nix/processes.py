"""Ending every process of a session: Open MPI gives each rank its own process group, but all stay in the
session of the mpirun we started with ``start_new_session=True``."""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, session, ...); None: no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _processes() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            yield int(entry.name), fields


def die_with_parent() -> None:
    """In a child, before exec: receive SIGTERM when the process that started it dies, however it dies (Linux).

    Servers start in sessions of their own, so nothing else would stop them if their parent were killed outright
    (or ended by a signal that a library re-raises after its own clean-up). The kernel sends the signal when the
    *thread* that forked exits, so start children with ``spawn`` (one long-lived thread forks them all)."""
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))  # resolved at import: the child only makes the call


class _Spawner:
    """One daemon thread that forks every child started with ``spawn``: it lives as long as this process, so a
    child's death signal follows the process, not the (pool, fixture) thread that asked for the child."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]]
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="trtllm-nix-spawner", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((start, done))
        return done.result()

    def _serve(self) -> None:
        while True:
            start, done = self._jobs.get()
            try:
                done.set_result(start())
            except BaseException as error:  # handed to the caller, who raises it
                done.set_exception(error)


_SPAWNER = _Spawner()


def spawn(command: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(command, **options)`` for a child that dies with this process (``die_with_parent``),
    forked by the spawner thread. A child whose parent is already gone when it arms the signal ends at once."""
    parent = os.getpid()

    def arm() -> None:
        die_with_parent()
        if os.getppid() != parent:  # the parent died before prctl: no signal will ever come
            os._exit(1)

    return _SPAWNER.run(lambda: subprocess.Popen(command, preexec_fn=arm, **options))


def kill_session(sid: int, timeout: float = 10.0) -> None:
    """SIGKILL every process in session ``sid`` until none is left (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = [pid for pid, fields in _processes() if int(fields[3]) == sid]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def terminate(process: subprocess.Popen[bytes], grace: float) -> bool:
    """SIGTERM ``process`` if it still runs and wait up to ``grace`` s for it to exit; whether it has exited."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    return process.poll() is not None


def end_session(process: subprocess.Popen[bytes]) -> None:
    """End whatever still runs in the session ``process`` leads (``start_new_session=True``), and reap it."""
    kill_session(process.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren, ...), whatever its session."""
    children: dict[int, list[int]] = {}
    for child, fields in _processes():
        children.setdefault(int(fields[1]), []).append(child)
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def alive(pids: list[int]) -> list[int]:
    """The pids that still run (neither gone nor zombies)."""
    return [pid for pid in pids if (fields := _stat(pid)) is not None and "Z" not in fields[0]]
