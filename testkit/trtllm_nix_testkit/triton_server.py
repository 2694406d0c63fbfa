"""Start, watch and stop one tritonserver process; no process or shared-memory region outlives it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from trtllm_nix.errors import ServerError, SetupError
from trtllm_nix.processes import spawn
from trtllm_nix.triton.ports import free_ports, port_is_free
from trtllm_nix.triton.runtime import PYTHON_VERSION, TritonRuntime

GRPC_URL_ENV = "TRTLLM_NIX_TRITON_GRPC_URL"
_LOAD_FAILURE = re.compile(r"failed to load '([^']+)'[^:]*:\s*(.*)")
_MODEL_NOT_READY = re.compile(r"\|\s*(\S+)\s*\|\s*\d+\s*\|\s*UNAVAILABLE: (.*?)\s*\|")


def libpython_missing() -> str | None:
    """The name of this interpreter's shared libpython when the stub could not load it, else None."""
    name = sysconfig.get_config_var("INSTSONAME") or f"libpython{PYTHON_VERSION}.so.1.0"
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and (Path(libdir) / str(name)).exists():
        return None
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/lib"):
        if (Path(directory) / str(name)).exists():
            return None
    return str(name)


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int

    @classmethod
    def pick(cls, host: str = "127.0.0.1") -> Ports:
        http, grpc, metrics = free_ports(3, host)
        return cls(http, grpc, metrics)


@dataclass
class TritonServer:
    """One tritonserver serving ``model_repository``; use as a context manager or call start()/stop()."""

    runtime: TritonRuntime
    model_repository: Path
    workdir: Path
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports.pick)
    extra_args: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 120.0
    exit_timeout: int = 5
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _shm_prefix: str = field(default_factory=lambda: f"trtllmnix{uuid.uuid4().hex[:8]}_", init=False)

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.ports.http}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.ports.grpc}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "tritonserver.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        backends = self.runtime.prepare_backend_dir(self.workdir / "backends")
        return [
            str(self.runtime.binary),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backends}",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
            f"--http-address={self.host}",
            f"--http-port={self.ports.http}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.ports.grpc}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.ports.metrics}",
            "--allow-gpu-metrics=false",
            "--pinned-memory-pool-byte-size=0",
            "--disable-auto-complete-config",
            f"--exit-timeout-secs={self.exit_timeout}",
            "--exit-on-error=true",
            *self.extra_args,
        ]

    def start(self) -> None:
        """Start the server and wait until ``/v2/health/ready`` answers 200, or raise with the reason."""
        for name, port in (("HTTP", self.ports.http), ("gRPC", self.ports.grpc), ("metrics", self.ports.metrics)):
            if not port_is_free(port, self.host):
                raise SetupError(f"{name} port {port} on {self.host} is taken; pick another or stop what holds it")
        missing = libpython_missing()
        if missing:
            raise SetupError(f"{missing} is missing; the Triton Python stub needs it (apt-get install libpython3.11)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.runtime.environment()
        env[GRPC_URL_ENV] = self.grpc_url  # our text `ensemble` model calls tensorrt_llm through it
        env.update(self.environment)
        command = self.command()
        with self.log_path.open("wb") as log:
            self._process = spawn(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ServerError(self._failure_reason(f"tritonserver exited with code {self._process.returncode}"))
            if self._is_ready():
                return
            stub_failure = self._stub_failure()
            if stub_failure:
                raise ServerError(stub_failure)
            if time.monotonic() > deadline:
                raise ServerError(self._failure_reason(f"tritonserver was not ready after {self.ready_timeout:.0f} s"))
            time.sleep(0.05)

    def _is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _stub_failure(self) -> str | None:
        text = self.log_text()
        if "error while loading shared libraries" in text:
            line = next(x for x in text.splitlines() if "error while loading shared libraries" in x)
            return f"the Triton Python stub cannot start: {line.strip()}"
        return None

    def _failure_reason(self, headline: str) -> str:
        text = self.log_text()
        load = _LOAD_FAILURE.search(text)
        if load:
            return f"model '{load.group(1)}' failed to load: {load.group(2).strip()} (log: {self.log_path})"
        unavailable = _MODEL_NOT_READY.search(text)
        if unavailable:
            return f"model '{unavailable.group(1)}' failed to load: {unavailable.group(2)} (log: {self.log_path})"
        if "Address already in use" in text or "address already in use" in text.lower():
            return f"a port is taken ({self.ports}); pick free ports (log: {self.log_path})"
        tail = " | ".join(line.strip() for line in text.splitlines()[-8:] if line.strip())
        return f"{headline}; log tail: {tail} (log: {self.log_path})"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM, wait the exit timeout, then SIGKILL the whole process group; remove shared-memory leftovers."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.exit_timeout + 10)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait(timeout=10)
        _kill_group(process.pid)
        for leftover in Path("/dev/shm").glob(f"{self._shm_prefix}*"):  # noqa: S108 - the Python backend's regions
            leftover.unlink(missing_ok=True)
        return process.returncode

    def __enter__(self) -> TritonServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _kill_group(pgid: int, timeout: float = 10.0) -> None:
    """Kill every process left in the server's own session (stubs it forked) and wait until none is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.02)
