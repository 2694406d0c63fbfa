"""Proxy settings: flags, then ``TRTLLM_NIX_PROXY_*`` variables, each value checked with a one-line error."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from trtllm_nix.errors import UserError
from trtllm_nix.proxy.settings import ProxySettings, add_arguments, from_namespace


def _settings(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_namespace(parser.parse_args(args), env)


def test_a_malformed_variable_does_not_break_other_subcommands() -> None:
    env = {**os.environ, "TRTLLM_NIX_PROXY_PORT": "nine", "TRTLLM_NIX_PROXY_KEEPALIVE_SECONDS": "soon"}
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_variable_is_one_line_naming_it(tmp_path: Path) -> None:
    env = {**os.environ, "TRTLLM_NIX_PROXY_PORT": "nine"}
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "proxy", "--tokenizer", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "trtllm-nix proxy: error: TRTLLM_NIX_PROXY_PORT must be an integer, got 'nine'"


def test_variables_come_from_the_given_environment() -> None:
    env = {"TRTLLM_NIX_PROXY_TOKENIZER": "/t", "TRTLLM_NIX_PROXY_PORT": "9123", "TRTLLM_NIX_PROXY_MAX_IN_FLIGHT": "7"}
    settings = _settings([], env)
    assert (settings.tokenizer, settings.port, settings.max_in_flight) == (Path("/t"), 9123, 7)
    assert _settings(["--port", "9200"], env).port == 9200, "a flag wins over its variable"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keepalive-seconds", "0"], "--keepalive-seconds must be at least 0.01"),
        (["--request-timeout", "0"], "--request-timeout must be more than 0 seconds"),
        (["--max-body-bytes", "0"], "--max-body-bytes must be at least 1024"),
        (["--port", "70000"], "--port must be in 1..65535"),
        (["--max-in-flight", "0"], "--max-in-flight must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--workers", "4", "--max-in-flight", "3"], r"--max-in-flight \(3\) is split across --workers \(4\)"),
        (["--max-model-len", "many"], "--max-model-len must be an integer, got 'many'"),
        (["--responses-store-bytes", "10"], "--responses-store-bytes must be at least 1024"),
        (["--responses-store-ttl", "0"], "--responses-store-ttl must be more than 0 seconds"),
        (["--header-timeout", "0"], "--header-timeout must be more than 0 seconds"),
        (["--body-timeout", "-1"], "--body-timeout must be more than 0 seconds"),
        (["--max-connections", "0"], "--max-connections must be at least 1"),
    ],
)
def test_values_out_of_range_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        _settings(["--tokenizer", "/t", *args], {})


def test_the_state_directory_is_systemds_else_xdgs_else_under_home() -> None:
    assert _settings(["--tokenizer", "/t", "--state-dir", "/s"], {}).state_dir == Path("/s")
    assert _settings(["--tokenizer", "/t"], {"STATE_DIRECTORY": "/var/lib/p:/var/lib/q"}).state_dir == Path(
        "/var/lib/p"
    )
    assert _settings(["--tokenizer", "/t"], {"XDG_STATE_HOME": "/x"}).state_dir == Path("/x/trtllm-nix")
    assert _settings(["--tokenizer", "/t"], {}).state_dir == Path.home() / ".local/state/trtllm-nix"


def test_several_workers_need_a_shared_state_directory() -> None:
    with pytest.raises(UserError, match="--workers above 1 needs --state-dir"):
        ProxySettings(tokenizer=Path("/t"), workers=2)
    assert ProxySettings(tokenizer=Path("/t"), workers=2, state_dir=Path("/s")).workers == 2


def test_connection_bounds_and_metrics_access_have_flags_and_variables() -> None:
    defaults = _settings(["--tokenizer", "/t"], {})
    assert (defaults.header_timeout, defaults.body_timeout, defaults.max_connections) == (10.0, 60.0, 1000)
    assert defaults.public_metrics is False
    flags = ["--header-timeout", "2.5", "--body-timeout", "30", "--max-connections", "64", "--public-metrics"]
    given = _settings(["--tokenizer", "/t", *flags], {})
    assert (given.header_timeout, given.body_timeout, given.max_connections) == (2.5, 30, 64)
    assert given.public_metrics is True
    env = {"TRTLLM_NIX_PROXY_TOKENIZER": "/t", "TRTLLM_NIX_PROXY_PUBLIC_METRICS": "1"}
    assert _settings([], env).public_metrics is True


def test_the_responses_store_url_has_a_flag_and_a_variable() -> None:
    url = "postgresql://proxy@db.internal:5432/trtllm"
    assert _settings(["--tokenizer", "/t"], {}).responses_store is None  # SQLite in the state directory
    assert _settings(["--tokenizer", "/t", "--responses-store", url], {}).responses_store == url
    env = {"TRTLLM_NIX_PROXY_TOKENIZER": "/t", "TRTLLM_NIX_PROXY_RESPONSES_STORE": url}
    assert _settings([], env).responses_store == url
    with pytest.raises(UserError, match="--responses-store must be a PostgreSQL URL"):
        _settings(["--tokenizer", "/t", "--responses-store", "/var/lib/x.sqlite3"], {})
