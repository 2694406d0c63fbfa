"""The units as the real nixpkgs.lib evaluates them (docs/nix-module-check.txt, scripts/nix-module-check): logs in
the journal, restart with bounded backoff, ordering after the GPU daemons, and hardening that leaves bubblewrap what
it needs (tests/runtime/test_hardened_entry.py runs the entry under the settings that touch it)."""

from __future__ import annotations

import json

from tests.nix.standin import REPO

# Settings that take from bubblewrap what it needs: a user namespace, mount/pivot_root/setgroups inside it.
BREAKS_BUBBLEWRAP = ("RestrictNamespaces", "SystemCallFilter", "PrivateUsers")


def units() -> dict[str, dict[str, object]]:
    """Each unit of the first (good) configuration: its hardening, ordering and environment."""
    text = (REPO / "docs" / "nix-module-check.txt").read_text().split("\n\n")[0]
    found: dict[str, dict[str, object]] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("["):
            name = line.strip("[]")
            found[name] = {}
        elif " = " in line and name:
            key, value = line.strip().split(" = ", 1)
            found[name][key] = json.loads(value)
    return found


def test_every_unit_is_hardened_without_breaking_bubblewrap() -> None:
    for name, unit in units().items():
        hardening = unit["hardening"]
        assert isinstance(hardening, dict)
        assert hardening["CapabilityBoundingSet"] == "", name
        for key in ("ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "RestrictRealtime",
                    "LockPersonality", "NoNewPrivileges"):  # fmt: skip
            assert hardening[key] is True, (name, key)
        assert hardening["RestrictAddressFamilies"] == ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"]
        assert not set(BREAKS_BUBBLEWRAP) & set(hardening), name


def test_restart_backs_off_and_is_never_given_up() -> None:
    for name, unit in units().items():
        hardening = unit["hardening"]
        assert isinstance(hardening, dict)
        assert (hardening["Restart"], hardening["RestartSteps"], hardening["RestartMaxDelaySec"]) == (
            "on-failure",
            10,
            300,
        ), name
        assert unit["startLimitIntervalSec"] == 0, name


def test_triton_units_log_to_the_journal_and_wait_for_the_gpu_daemons() -> None:
    tritons = {name: unit for name, unit in units().items() if name != "trtllm-proxy"}
    assert tritons
    for name, unit in tritons.items():
        environment = unit["environment"]
        assert isinstance(environment, dict)
        assert environment["TRTLLM_NIX_LOG_TO_STDOUT"] == "1", name
        assert {"nvidia-persistenced.service", "nvidia-fabricmanager.service"} <= set(unit["after"])  # type: ignore[arg-type]
