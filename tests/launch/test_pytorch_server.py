"""Running trtllm-serve (a fake with its behaviours, tests/launch/fake_trtllm_serve.py): ready once its port
accepts, stopped by SIGTERM, its MPI shutdown hang ended with its workers, a crash while serving or before it was
ready reported with its log, and the command line a user types."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from trtllm_nix.errors import ServerError
from trtllm_nix.launch.plan import Launch
from trtllm_nix.launch.pytorch_server import SERVER_DIED, TrtllmServe, port_open
from trtllm_nix.processes import alive, descendants
from trtllm_nix.triton.ports import free_ports

FAKE = Path(__file__).with_name("fake_trtllm_serve.py")
REPO = Path(__file__).resolve().parents[2]


def _server(tmp_path: Path, mode: str, exit_timeout: float = 20.0) -> TrtllmServe:
    port = free_ports(1)[0]
    command = [sys.executable, str(FAKE), str(tmp_path), "--grpc", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "FAKE_TRTLLM_SERVE": mode}
    return TrtllmServe(Launch(command, env), tmp_path / "run", "127.0.0.1", port, exit_timeout)


def test_ready_when_the_port_accepts_and_stopped_by_sigterm(tmp_path: Path) -> None:
    server = _server(tmp_path, "serve")
    server.start()
    server.wait_ready(60)
    assert port_open("127.0.0.1", server.port)
    assert server.stop().startswith("trtllm-serve stopped (exit code 0)")
    assert not port_open("127.0.0.1", server.port)


def test_the_mpi_shutdown_hang_is_ended_with_its_workers(tmp_path: Path) -> None:
    """After SIGTERM the port closes but the process never exits (and its worker ignores SIGTERM): once the exit
    timeout passes, the launcher ends the whole session and says why."""
    server = _server(tmp_path, "hang", exit_timeout=1.0)
    server.start()
    server.wait_ready(60)
    assert server.process is not None
    workers = descendants(server.process.pid)
    assert workers, "the fake started its worker"
    said = server.stop()
    assert "stopped serving but had not exited 1 s later (its MPI shutdown): ended it and its workers" in said
    assert server.process.poll() is not None
    assert alive(workers) == []


def test_a_failure_before_ready_says_the_exit_code_and_the_log(tmp_path: Path) -> None:
    server = _server(tmp_path, "fail")
    server.start()
    with pytest.raises(ServerError, match=r"exited with code 3 before it was ready; log .*no GPU devices found"):
        server.wait_ready(60)


def test_a_crash_while_serving_is_exit_code_10(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = _server(tmp_path, "serve")
    server.start()
    server.wait_ready(60)
    assert server.process is not None
    server.process.send_signal(signal.SIGUSR1)
    assert server.supervise() == SERVER_DIED
    assert "trtllm-serve exited with code 5 while serving" in capsys.readouterr().out


def test_a_busy_port_is_refused_before_starting(tmp_path: Path) -> None:
    first = _server(tmp_path, "serve")
    first.start()
    first.wait_ready(60)
    second = TrtllmServe(first.launch, tmp_path / "run2", "127.0.0.1", first.port, 5)
    try:
        with pytest.raises(ServerError, match=f"port {first.port} on 127.0.0.1 is already in use"):
            second.start()
        assert second.process is None
    finally:
        first.stop()


def test_the_command_a_user_types(tmp_path: Path) -> None:
    """`trtllm-nix serve-pytorch --model DIR --tp 2`: prints ready, runs trtllm-serve with the plan's arguments and
    GPUs, and exits 0 on SIGTERM."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    port = free_ports(1)[0]
    wrapper = tmp_path / "trtllm-serve"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    wrapper.chmod(0o755)
    record = tmp_path / "record.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "python"), "FAKE_TRTLLM_SERVE_RECORD": str(record)}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "trtllm_nix.cli", "serve-pytorch", "--model", str(model), "--tp", "2",
               "--port", str(port), "--trtllm-serve", str(wrapper), "--run-dir", str(tmp_path / "run")]  # fmt: skip
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline(), process.stdout.readline()]
            assert lines[1] == f"ready: gRPC 127.0.0.1:{port} (trtllm.TrtllmService)\n", lines
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
            assert "trtllm-serve stopped (exit code 0)" in process.stdout.read()
        finally:
            process.kill()
    seen = json.loads(record.read_text())
    assert seen["argv"][:6] == [str(model), "--grpc", "--backend", "pytorch", "--host", "127.0.0.1"]
    assert seen["argv"][-4:-2] == ["--tp_size", "2"]
    assert seen["CUDA_VISIBLE_DEVICES"] == "0,1"
    # guided decoding on by default, as the engine lane's repositories have it: the server enforces guides
    options = tmp_path / "run" / "llm-api-options.yaml"
    assert seen["argv"][-2:] == ["--extra_llm_api_options", str(options)]
    assert options.read_text() == "guided_decoding_backend: xgrammar\n"


def test_a_stop_while_the_model_loads_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGTERM before ready (or right after it: the handlers are in place before the start) stops trtllm-serve and
    exits 0, instead of killing the launcher and leaving the server to its death signal."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    wrapper = tmp_path / "trtllm-serve"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(REPO / "python"), "FAKE_TRTLLM_SERVE": "load"}
    command = [sys.executable, "-m", "trtllm_nix.cli", "serve-pytorch", "--model", str(model), "--trtllm-serve",
               str(wrapper), "--port", str(free_ports(1)[0]), "--run-dir", str(tmp_path / "run")]  # fmt: skip
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("starting trtllm-serve --grpc")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
            # 0: the fake's own handler; -15: SIGTERM came before the fake had set it up
            assert re.fullmatch(
                r"trtllm-serve stopped \(exit code (0|-15)\) before it was ready\n", process.stdout.read()
            )
        finally:
            process.kill()


def test_a_folder_without_config_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "serve-pytorch", "--model", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(REPO / "python")}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"trtllm-nix serve-pytorch: error: --model {tmp_path} holds no config.json: give the checkpoint folder "
        "(nix build .#...-weights)\n"
    )


def test_an_unreadable_options_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    missing = tmp_path / "options.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "trtllm_nix.cli", "serve-pytorch", "--model", str(tmp_path),
         "--extra-llm-api-options", str(missing), "--run-dir", str(tmp_path / "run")],
        env={**os.environ, "PYTHONPATH": str(REPO / "python")}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"trtllm-nix serve-pytorch: error: --extra-llm-api-options {missing}: No such file or directory\n"
    )
