"""The launch, as data: the exact command line and environment for a repository, GPUs and ports.

World size 1 runs tritonserver directly. Larger worlds run one ``mpirun`` with one app context per rank, as
NVIDIA's launch_triton_server.py does: ``--disable-auto-complete-config`` and a Python-backend shared-memory prefix
per rank everywhere, and on ranks above 0 ``--model-control-mode=explicit --load-model=tensorrt_llm`` (those ranks
are TensorRT-LLM's leader-mode workers and never finish loading). NCCL settings follow the GPU topology; anything
the user already set in the environment wins.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from trtllm_nix.errors import UserError
from trtllm_nix.gpus import GpuInventory
from trtllm_nix.reexec import module_command

PCIE_NCCL = {"NCCL_P2P_LEVEL": "PHB", "NCCL_IB_DISABLE": "1", "NCCL_SHM_DISABLE": "0"}
FORWARDED = (
    "PATH",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "TMPDIR",
    "TMP",
    "TEMP",
    "OMPI_MCA_orte_tmpdir_base",
    "TRTLLM_NIX_TRITON_GRPC_URL",
    "TRTLLM_NIX_REFERENCE_STATS",
    "PYTHONPATH",
)


@dataclass(frozen=True)
class LaunchRequest:
    repository: Path
    world_size: int
    generator_model: str
    tritonserver: str
    run_dir: Path
    gpus: list[int] | None = None
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    hostfile: Path | None = None
    backend_directory: Path | None = None
    is_root: bool = False
    launch_id: str = "0"
    exit_timeout: int = 10
    extra_args: tuple[str, ...] = ()
    # runs trtllm_nix.launch.rank: this interpreter with its import path, or python3 -m inside an image root
    rank_python: tuple[str, ...] = field(default_factory=lambda: tuple(module_command("trtllm_nix.launch.rank")))


@dataclass(frozen=True)
class Launch:
    command: list[str]
    environment: dict[str, str]
    changes: dict[str, str] = field(default_factory=dict)
    nccl_reason: str = ""

    def shell(self) -> str:
        lines = [f"export {key}={shlex.quote(value)}" for key, value in sorted(self.changes.items())]
        return "\n".join([*lines, shlex.join(self.command)])


def chosen_gpus(request: LaunchRequest) -> list[int]:
    gpus = request.gpus if request.gpus is not None else list(range(request.world_size))
    if len(gpus) != request.world_size:
        raise UserError(
            f"the repository's engine needs {request.world_size} GPU{'s' if request.world_size != 1 else ''} (its "
            f"TP x PP), but --gpus lists {len(gpus)} ({','.join(map(str, gpus))}); pass exactly "
            f"{request.world_size} indices"
        )
    if len(set(gpus)) != len(gpus):
        raise UserError(f"--gpus lists a GPU twice: {','.join(map(str, gpus))}")
    return gpus


def nccl_settings(
    inventory: GpuInventory | None, gpus: list[int], multi_node: bool = False
) -> tuple[dict[str, str], str]:
    if len(gpus) < 2:
        return {}, "one GPU: no NCCL"
    if inventory is None or not inventory.gpus:
        return {}, "topology unknown (no NVML): NCCL's defaults"
    missing = [g for g in gpus if g >= len(inventory.gpus)]
    if missing:
        raise UserError(f"--gpus names GPU {missing[0]}, but this machine has {len(inventory.gpus)} GPU(s)")
    if inventory.nvlink_between(gpus):
        return {}, "NVLink between all chosen GPUs: NCCL's defaults"
    if multi_node:
        # The local GPUs describe this node only; between nodes NCCL needs InfiniBand (or RoCE), so keep it on.
        settings = {key: value for key, value in PCIE_NCCL.items() if key != "NCCL_IB_DISABLE"}
        return (
            settings,
            "no NVLink between this node's GPUs: P2P through the host bridge; InfiniBand kept for the nodes",
        )
    return dict(PCIE_NCCL), "no NVLink between the chosen GPUs (PCIe only): P2P through the host bridge"


def plan_launch(request: LaunchRequest, base_env: dict[str, str], inventory: GpuInventory | None) -> Launch:
    gpus = chosen_gpus(request)
    nccl, reason = nccl_settings(inventory, gpus, multi_node=request.hostfile is not None)
    grpc_url = {"TRTLLM_NIX_TRITON_GRPC_URL": f"{request.host}:{request.grpc_port}"}
    environment, changes = run_environment(base_env, gpus, request.run_dir, {**grpc_url, **nccl})
    ranks = [_rank_command(request, rank) for rank in range(request.world_size)]
    if request.world_size == 1:
        return Launch(ranks[0], environment, changes, reason)
    command = mpirun_options(environment, request.world_size, request.is_root, nccl, request.hostfile)
    wrapper = [*request.rank_python, str(request.run_dir), "--"]
    for rank, rank_command in enumerate(ranks):
        if rank:
            command.append(":")
        command += ["-n", "1", *wrapper, *rank_command]
    return Launch(command, environment, changes, reason)


def run_environment(
    base_env: dict[str, str], gpus: list[int], run_dir: Path, more: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The launch's environment and what it changes in ``base_env``: the chosen GPUs, the run folder's private
    ``tmp`` for every temporary file (Open MPI's too), then ``more``; a variable the user already set wins."""
    runtime = str(run_dir / "tmp")
    wanted = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus)), "TMPDIR": runtime, "TMP": runtime, "TEMP": runtime}
    wanted |= {"OMPI_MCA_orte_tmpdir_base": runtime, **more}
    changes = {key: value for key, value in wanted.items() if key not in base_env}
    return {**base_env, **changes}, changes


def mpirun_options(
    environment: dict[str, str], ranks: int, is_root: bool, nccl: dict[str, str], hostfile: Path | None = None
) -> list[str]:
    """``mpirun`` and its options, before the app contexts: root allowed when we are root, the hostfile (else
    oversubscribed when the ranks outnumber the cores), and ``-x`` for each variable the ranks need
    (``FORWARDED``, the ``nccl`` settings chosen, then any other ``NCCL_`` variable the user set)."""
    command = ["mpirun"]
    if is_root:
        command.append("--allow-run-as-root")
    if hostfile is not None:
        command += ["--hostfile", str(hostfile)]
    elif ranks > (os.cpu_count() or 1):
        command.append("--oversubscribe")
    exported = [name for name in FORWARDED if name in environment] + sorted(k for k in nccl if k in environment)
    exported += sorted(k for k in environment if k.startswith("NCCL_") and k not in exported)
    for name in exported:
        command += ["-x", name]
    return command


def default_run_dir(given: Path | None, name: str) -> Path:
    """``--run-dir``, else a new folder ``NAME-PID`` in ``$XDG_RUNTIME_DIR`` (else the temporary folder)."""
    runtime_root = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    return (given or runtime_root / f"{name}-{os.getpid()}").resolve()


def parse_gpus(text: str | None) -> list[int] | None:
    """``--gpus 0,1``: the indices given, or None for the default."""
    try:
        return [int(x) for x in text.split(",")] if text else None
    except ValueError as error:
        raise UserError(f"--gpus must be comma-separated integers, got {text!r}") from error


def _rank_command(request: LaunchRequest, rank: int) -> list[str]:
    command = [
        request.tritonserver,
        f"--model-repository={request.repository}",
        f"--http-address={request.host}",
        f"--http-port={request.http_port}",
        f"--grpc-address={request.host}",
        f"--grpc-port={request.grpc_port}",
        f"--metrics-address={request.host}",
        f"--metrics-port={request.metrics_port}",
        "--disable-auto-complete-config",
        f"--backend-config=python,shm-region-prefix-name=prefix{rank}_{request.launch_id}_",
        f"--exit-timeout-secs={request.exit_timeout}",
    ]
    if request.backend_directory is not None:
        command.append(f"--backend-directory={request.backend_directory}")
    if rank > 0:
        command += ["--model-control-mode=explicit", f"--load-model={request.generator_model}"]
    return [*command, *request.extra_args]
