"""``trtllm-nix doctor --bwrap``: the host settings that stop bubblewrap, each with its fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trtllm_nix.runtime.namespaces import namespace_findings


def sysctl(tmp_path: Path, **values: str) -> Path:
    for name, value in values.items():
        section, key = name.split("__")
        (tmp_path / section).mkdir(exist_ok=True)
        (tmp_path / section / key).write_text(value + "\n")
    return tmp_path


def test_ubuntu_2404_restriction_blocks_a_store_bubblewrap(tmp_path: Path) -> None:
    proc = sysctl(tmp_path, kernel__apparmor_restrict_unprivileged_userns="1", kernel__unprivileged_userns_clone="1")
    store_bwrap = "/nix/store/abc-bubblewrap-0.11.0/bin/bwrap"
    restriction = namespace_findings(store_bwrap, proc)[1]
    assert not restriction.ok
    assert "/nix/store/*-bubblewrap-*/bin/bwrap" in restriction.line()
    assert "apparmor_restrict_unprivileged_userns=0" in restriction.line()
    assert namespace_findings("/usr/bin/bwrap", proc)[1].ok, "Ubuntu's own profile covers /usr/bin/bwrap"


def test_user_namespaces_switched_off(tmp_path: Path) -> None:
    proc = sysctl(tmp_path, user__max_user_namespaces="0")
    found = namespace_findings("/usr/bin/bwrap", proc)[0]
    assert not found.ok
    assert "security.allowUserNamespaces" in found.line()


def test_a_bubblewrap_that_cannot_start_says_what_it_said(tmp_path: Path) -> None:
    broken = tmp_path / "bwrap"
    broken.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Permission denied' >&2\nexit 1\n")
    broken.chmod(0o755)
    trial = namespace_findings(str(broken), sysctl(tmp_path))[2]
    assert not trial.ok
    assert "Creating new namespace failed: Permission denied" in trial.detail


def test_doctor_bwrap_on_this_machine() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "doctor", "--bwrap"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout
    assert "ok   bubblewrap: " in result.stdout
    assert result.stdout.strip().endswith("3 passed, 0 failed")
