"""The entry under the NixOS unit's settings that touch bubblewrap (nix/module.nix bubblewrapSafeHardening):
CapabilityBoundingSet="" and NoNewPrivileges=true, applied with setpriv to an unprivileged user as DynamicUser's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from trtllm_nix.runtime.entry import Sandbox


def test_the_entry_runs_with_no_capabilities_and_no_new_privileges(standin_root: Path) -> None:
    """CapabilityBoundingSet="" and NoNewPrivileges=true, as setpriv applies them, for an unprivileged user (a
    DynamicUser uid): bubblewrap still makes its user and mount namespaces and runs the image's program."""
    sandbox = Sandbox.open(standin_root, None)
    command = sandbox.command(["/usr/bin/env"], caller={})
    as_user = ["--reuid", "65534", "--regid", "65534", "--clear-groups"] if os.geteuid() == 0 else []
    setpriv = ["setpriv", *as_user, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    result = subprocess.run([*setpriv, *command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "TRITON_SERVER_VERSION=2.51.0" in result.stdout, "the image's own environment, inside the image"


def test_the_images_mpirun_runs_as_a_uid_missing_from_its_passwd(standin_root: Path) -> None:
    """DynamicUser gives a uid no /etc/passwd names, the image's included: mpirun (the stand-in's Open MPI 4.1)
    still starts both ranks with HOME and USER set, as the unit sets them; only name lookups fail."""
    assert ":61234:" not in (standin_root / "etc" / "passwd").read_text()
    sandbox = Sandbox.open(standin_root, None)
    ranks = ["mpirun", "--oversubscribe", "-n", "2", "sh", "-c", "id -u; whoami 2>&1 || true"]
    command = sandbox.command(ranks, caller={"HOME": "/tmp", "USER": "trtllm-x"})
    as_user = ["--reuid", "61234", "--regid", "61234", "--clear-groups"] if os.geteuid() == 0 else []
    setpriv = ["setpriv", *as_user, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    result = subprocess.run([*setpriv, *command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    if as_user:
        assert result.stdout.splitlines().count("61234") == 2
        assert result.stdout.count("cannot find name for user ID 61234") == 2
