"""Run a planned ``trtllm-serve --grpc``: ready when its port accepts connections, stopped by SIGTERM, and its MPI
shutdown hang ended the way the engine builder ends its (engine/supervise.py): judged by what it does, not by how or
whether it exits.

What trtllm-serve does (facts from NVIDIA/TensorRT-LLM, no code): in gRPC mode it builds the LLM (the model loaded,
the TP workers started) before it binds its port, so a port that accepts is a loaded server; on SIGTERM or SIGINT it
stops the gRPC server (grace 5 s) and then shuts the LLM down (tensorrt_llm/commands/serve.py, ``launch_grpc_server``,
the version with gRPC; the index names no commit). The LLM's MPI session waits up to 60 s for its workers before it
aborts them (``MpiSession.shutdown_abort(grace=60)``, tensorrt_llm/llmapi/mpi_session.py @cc4777e9), and MPI
teardown is where the seed's tools hung. So: once the port is closed the server has stopped serving; whatever
still runs ``exit_timeout`` seconds later is ended with its whole session (the workers MPI spawned are in it).
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from trtllm_nix.errors import ServerError
from trtllm_nix.launch.plan import Launch
from trtllm_nix.launch.tee import LoggedServer, log_tail
from trtllm_nix.processes import end_session, terminate

SERVER_DIED = 10  # the exit code when trtllm-serve ends on its own while serving


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at host:port (a wildcard address is reached on loopback)."""
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1):
            return True
    except OSError:
        return False


class TrtllmServe(LoggedServer):
    def __init__(self, launch: Launch, run_dir: Path, host: str, port: int, exit_timeout: float) -> None:
        super().__init__(launch, run_dir, exit_timeout)
        self.host = host
        self.port = port

    @property
    def log(self) -> Path:
        return self.run_dir / "trtllm-serve.log"

    def start(self) -> None:
        if port_open(self.host, self.port):
            raise ServerError(
                f"port {self.port} on {self.host} is already in use: stop what serves there or pass --port"
            )
        missing = "pass --runtime (the TensorRT-LLM release image, nix build .#tensorrt-llm-release) or --trtllm-serve"
        self.start_logged(self.log, b"[trtllm-serve] ", missing)

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT ask for a stop from now on (before the start: a stop while the model loads, or right
        after ready, is a clean stop too); ``supervise`` and ``wait_ready`` act on it."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)

    def wait_ready(self, timeout: float) -> bool:
        """True once the port accepts; False when a stop was asked for first (trtllm-serve is then stopped)."""
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            assert self.process is not None
            if self.stop_requested:
                print(f"{self.stop()} before it was ready", flush=True)
                return False
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise ServerError(f"trtllm-serve exited with code {code} before it was ready; {self._tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"trtllm-serve was not ready after {timeout:.0f} s; log {self.log}")
            time.sleep(0.1)
        return True

    def supervise(self) -> int:
        """Block until a stop is asked (0; see ``handle_signals``) or trtllm-serve ends on its own (``SERVER_DIED``)."""
        while not self.stop_requested:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                print(f"trtllm-serve exited with code {code} while serving; {self._tail()}", flush=True)
                return SERVER_DIED
            time.sleep(0.2)
        print(self.stop(), flush=True)
        return 0

    def stop(self) -> str:
        """SIGTERM, then wait for the exit; what still runs ``exit_timeout`` s later is ended. Says what happened."""
        process = self.process
        if process is None:
            return "trtllm-serve was not started"
        said = f"trtllm-serve exited with code {process.returncode}"
        if process.poll() is None:  # SIGTERM: the entry passes it on to trtllm-serve (or mpirun)
            if terminate(process, self.exit_timeout):
                said = f"trtllm-serve stopped (exit code {process.returncode})"
            elif port_open(self.host, self.port):
                said = f"trtllm-serve still served {self.exit_timeout:.0f} s after SIGTERM: ended it"
            else:
                said = (
                    f"trtllm-serve stopped serving but had not exited {self.exit_timeout:.0f} s later (its MPI "
                    "shutdown): ended it and its workers"
                )
        end_session(process)  # trtllm-serve, the workers MPI spawned, mpirun's ranks: all in its session
        if self.tee is not None:
            self.tee.join(timeout=5)
        return said

    def _tail(self) -> str:
        tail = log_tail(self.log)
        return f"no log at {self.log}" if tail is None else f"log {self.log}: {tail or '(empty)'}"
