"""Can bubblewrap enter the runtime on this host? Unprivileged user namespaces must be on, and Ubuntu 24.04's
AppArmor restriction (``kernel.apparmor_restrict_unprivileged_userns=1``) leaves a bubblewrap outside
``/usr/bin`` (nixpkgs' ``/nix/store/*-bubblewrap-*/bin/bwrap``) without capabilities in its namespace
(NixOS/nixpkgs#399300). Each finding names the fix; a trial run of bubblewrap has the last word."""

from __future__ import annotations

import subprocess
from pathlib import Path

from trtllm_nix.engine.check import Finding

APPARMOR_PROFILE = (
    "an AppArmor profile for it, e.g. /etc/apparmor.d/nix-bwrap: 'abi <abi/4.0>, include <tunables/global> "
    "profile nix-bwrap /nix/store/*-bubblewrap-*/bin/bwrap flags=(unconfined) { userns, }' and apparmor_parser -r "
    "it, or sysctl kernel.apparmor_restrict_unprivileged_userns=0 (persist in /etc/sysctl.d)"
)


def namespace_findings(bwrap: str, sysctl: Path = Path("/proc/sys")) -> list[Finding]:
    findings: list[Finding] = []
    clone = _read(sysctl / "kernel" / "unprivileged_userns_clone")
    most = _read(sysctl / "user" / "max_user_namespaces")
    enabled = clone != "0" and most != "0"
    findings.append(
        Finding(
            "user namespaces",
            enabled,
            f"unprivileged_userns_clone={clone or 'n/a'}, max_user_namespaces={most or 'n/a'}",
            "sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces=63329 (NixOS: "
            "security.allowUserNamespaces = true; the hardened profile turns them off)",
        )
    )
    restricted = _read(sysctl / "kernel" / "apparmor_restrict_unprivileged_userns") == "1"
    covered = bwrap == "/usr/bin/bwrap"  # Ubuntu's bwrap-userns-restrict profile attaches to this path only
    findings.append(
        Finding(
            "AppArmor user-namespace restriction",
            not restricted or covered,
            ("on" if restricted else "off") + (f", {bwrap} is covered by Ubuntu's profile" if covered else ""),
            f"{bwrap} is not covered by Ubuntu's bwrap-userns-restrict profile: add {APPARMOR_PROFILE}",
        )
    )
    trial = _try(bwrap)
    findings.append(
        Finding("bubblewrap", trial == "", f"{bwrap}: {trial or 'made its namespaces'}", "see the findings above")
    )
    return findings


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _try(bwrap: str) -> str:
    """'' when bubblewrap can start a command in new namespaces, else what it said."""
    try:
        result = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-user", "--", "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError as error:
        return str(error)
    return "" if result.returncode == 0 else (result.stderr.strip().splitlines() or ["failed"])[-1]
