"""User mistakes on the command line: one line on stderr that says what to fix, a non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("proxy", "--tokenizer", "/no/such/dir"), "proxy: error: /no/such/dir has no tokenizer.json"),
        (("proxy", "--tokenizer", "/tmp", "--default-chat-template-kwargs", "{oops"), "is not JSON"),
        (("proxy", "--tokenizer", "/tmp", "--api-key-file", "/no/key"), "cannot read --api-key-file /no/key"),
    ],
)
def test_user_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = _run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_taken_port_is_a_setup_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _run("demo", "--port", str(port))
    assert result.returncode == 3
    assert (
        result.stderr.strip()
        == f"trtllm-nix demo: error: port {port} on 127.0.0.1 is taken; pass --port with a free one"
    )


def test_the_demo_without_the_testkit_says_what_to_install() -> None:
    """The product's one import of the testkit (``trtllm-nix demo``) is lazy; without it, one line."""
    block = (
        "import sys, importlib.abc\n"
        "class NoTestkit(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'trtllm_nix_testkit':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTestkit())\n"
        "from trtllm_nix.cli import main\n"
        "sys.exit(main(['demo', '--port', '0']))\n"
    )
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "trtllm-nix demo: error: the demo runs the testkit's reference backend, which is not installed (No module "
        "named 'trtllm_nix_testkit'): `make demo` in a trtllm-nix checkout installs it (testkit/)"
    )
