"""The entry's bubblewrap command on hosts unlike a desktop: inside Nix's build sandbox (no /sys: Nix mounts sysfs
only for uid-range builds, linux-derivation-builder.cc), and with work folders below a folder the image also has."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ENTRY = [sys.executable, "-m", "trtllm_nix.runtime.entry"]


def without_sys() -> list[str]:
    """An outer bubblewrap that looks like Nix's build sandbox: the host's folders, a /dev and /proc, no /sys."""
    args = ["bwrap", "--dev", "/dev", "--proc", "/proc"]
    for entry in sorted(Path("/").iterdir()):
        if entry.name in {"sys", "proc", "dev"}:
            continue
        args += ["--symlink", str(entry.readlink()), str(entry)] if entry.is_symlink() else ["--bind", entry, entry]
    return [str(a) for a in args]


def test_the_entry_runs_where_there_is_no_sys(standin_root: Path) -> None:
    probe = subprocess.run([*without_sys(), "--", "test", "-e", "/sys/class"], capture_output=True, check=False)
    assert probe.returncode == 1, "the outer sandbox has no /sys"
    result = subprocess.run(
        [*without_sys(), "--", *ENTRY, "--root", str(standin_root), "--", "python3", "-c", "print('inside')"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "inside"


def test_a_work_folder_below_a_folder_of_the_image(standin_root: Path) -> None:
    """/var/tmp/... (or a run folder in /home/me) is bound where the image has a read-only /var (/home)."""
    assert (standin_root / "var").is_dir()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as work:
        result = subprocess.run(
            [*ENTRY, "--root", str(standin_root), "--bind", work, "--", "sh", "-c", f"echo ok > {work}/written"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert (Path(work) / "written").read_text() == "ok\n"
        inside = subprocess.run(
            [*ENTRY, "--root", str(standin_root), "--bind", work, "--", "ls", "/var"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert {"lib", "tmp"} <= set(inside.stdout.split()), "the image's own /var entries are still there"
