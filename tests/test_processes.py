"""D19: a child's death signal (PR_SET_PDEATHSIG) fires when the *thread* that forked it exits. Servers started from
a short-lived thread (a thread pool, a threaded fixture) must outlive that thread; ``spawn`` forks them from one
thread that lives as long as the process."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from trtllm_nix.processes import die_with_parent, spawn

from tests.helpers import wait_until


def _from_a_thread(start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    started: list[subprocess.Popen[bytes]] = []
    ids: list[int] = []

    def run() -> None:
        ids.append(threading.get_native_id())
        started.append(start())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    wait_until(lambda: not Path(f"/proc/self/task/{ids[0]}").exists(), 30, "the starting thread to be gone")
    return started[0]


def _survives(child: subprocess.Popen[bytes]) -> bool:
    try:
        child.wait(timeout=1.5)
    except subprocess.TimeoutExpired:
        return True
    finally:
        child.kill()
        child.wait()
    return False


def test_a_child_forked_by_a_thread_dies_with_that_thread() -> None:
    """What the kernel does (and why ``spawn`` exists): the signal follows the forking thread."""
    child = _from_a_thread(lambda: subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent))
    assert not _survives(child)


def test_a_spawned_child_outlives_the_thread_that_asked_for_it() -> None:
    child = _from_a_thread(lambda: spawn(["sleep", "60"]))
    assert _survives(child)


def test_spawn_raises_what_popen_raises() -> None:
    with pytest.raises(FileNotFoundError):
        spawn(["/nonexistent/tritonserver"])
