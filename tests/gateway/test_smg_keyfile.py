"""``smg-keyfile`` (nix/smg.nix's postInstall, the launcher services.trtllm.gateway runs): SMG with ``--api-key`` read
from a file inside the process, so the key is neither in the store nor in ``/proc/PID/cmdline``. The script is taken
from nix/smg.nix as Nix writes it and run with the SMG virtualenv's Python."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from trtllm_nix.triton.ports import free_ports

from tests.conftest import REPO_ROOT
from tests.gateway.test_smg import smg_binary
from tests.helpers import wait_until


def keyfile_script(tmp: Path) -> Path:
    nix = (REPO_ROOT / "nix" / "smg.nix").read_text()
    match = re.search(r"cat > \$out/bin/smg-keyfile <<'PY'\n(.*?)\n *PY\n", nix, re.S)
    assert match, "nix/smg.nix writes smg-keyfile with a quoted heredoc"
    lines = match.group(1).splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    script = tmp / "smg-keyfile"
    script.write_text("\n".join(line[indent:] for line in lines) + "\n")  # as Nix strips an indented string
    return script


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    key = tmp_path / "api-key"
    key.write_text("sk-from-a-file\n")
    port, metrics = free_ports(2)
    python = smg_binary().parent / "python"
    command = [str(python), str(keyfile_script(tmp_path)), str(key), "launch", "--host", "127.0.0.1",
               "--port", str(port), "--prometheus-host", "127.0.0.1", "--prometheus-port", str(metrics),
               "--log-level", "warn"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def live() -> bool:
        assert process.poll() is None, "smg-keyfile exited"
        try:
            return httpx.get(url + "/liveness", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(live, 30, "SMG to listen")
        yield process, url
    finally:
        process.kill()
        process.wait(timeout=15)


def test_the_key_from_the_file_guards_smg_and_stays_off_the_command_line(
    launched: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = launched
    assert httpx.get(url + "/workers", timeout=10).status_code == 401
    keyed = httpx.get(url + "/workers", headers={"Authorization": "Bearer sk-from-a-file"}, timeout=10)
    assert keyed.status_code == 200
    assert b"sk-from-a-file" not in Path(f"/proc/{process.pid}/cmdline").read_bytes()


def test_an_empty_key_file_is_a_one_line_refusal(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    python = smg_binary().parent / "python"
    done = subprocess.run([str(python), str(keyfile_script(tmp_path)), str(empty), "launch"], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip() == f"smg-keyfile: {empty} is empty"
