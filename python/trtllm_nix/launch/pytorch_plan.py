"""The PyTorch lane's launch, as data: ``trtllm-serve MODEL --grpc`` for a model folder, GPUs and a port.

How trtllm-serve starts its tensor-parallel workers (facts, not code, from NVIDIA/TensorRT-LLM):

- ``spawn`` (the default): one ``trtllm-serve`` process. With ``--tp_size N > 1`` and an MPI world of one, the LLM
  API spawns N MPI workers itself (``need_spawn_mpi_workers``: MPI world size 1 and model world size > 1, then an
  ``MpiPoolSession``, mpi4py's ``MPIPoolExecutor``: tensorrt_llm/llmapi/mpi_session.py @cc4777e9). Open MPI refuses
  to run as root unless ``OMPI_ALLOW_RUN_AS_ROOT=1`` and ``OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`` are set (Open MPI's
  own check, which ``mpirun --allow-run-as-root`` stands for), so the plan sets them for root.
- ``mpirun``: ``mpirun -n N trtllm-llmapi-launch trtllm-serve ...``, the route for several nodes: rank 0 runs
  trtllm-serve with the MPI variables removed and then the MPI leader, the other ranks are MPI workers
  (tensorrt_llm/llmapi/trtllm-llmapi-launch @020c89e6; ``external_mpi_comm_available`` in mpi_session.py @cc4777e9).

The flags are trtllm-serve's: ``--host``, ``--port``, ``--backend``, ``--tp_size``, ``--max_seq_len`` and
``--extra_llm_api_options`` (tensorrt_llm/commands/serve.py @4c05a748); ``--grpc`` from the version of serve.py with
``launch_grpc_server`` (found by text search; the index names no commit for it, so it is checked against the
image's ``trtllm-serve --help`` on a GPU). In gRPC mode trtllm-serve refuses ``--tool_parser``, ``--chat_template``
and the disaggregation options; nothing here passes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trtllm_nix.errors import UserError
from trtllm_nix.gpus import GpuInventory
from trtllm_nix.launch.plan import Launch, mpirun_options, nccl_settings, run_environment

WORKER_LAUNCHES = ("spawn", "mpirun")
GUIDED_DECODING = ("xgrammar", "none")
GUIDED_KEY = "guided_decoding_backend"  # TensorRT-LLM's LLM API argument, read from --extra_llm_api_options
OPTIONS_FILE = "llm-api-options.yaml"
ROOT_MPI = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


@dataclass(frozen=True)
class PytorchRequest:
    model: Path
    tp: int
    run_dir: Path
    trtllm_serve: tuple[str, ...] = ("trtllm-serve",)
    gpus: list[int] | None = None
    host: str = "127.0.0.1"
    port: int = 50051
    max_seq_len: int | None = None
    config: Path | None = None
    workers: str = "spawn"
    llmapi_launch: str = "trtllm-llmapi-launch"
    is_root: bool = False
    extra_args: tuple[str, ...] = ()


def serve_command(request: PytorchRequest) -> list[str]:
    """trtllm-serve's own command line (the same for both worker launches)."""
    command = [*request.trtllm_serve, str(request.model), "--grpc", "--backend", "pytorch"]
    command += ["--host", request.host, "--port", str(request.port), "--tp_size", str(request.tp)]
    if request.max_seq_len is not None:
        command += ["--max_seq_len", str(request.max_seq_len)]
    if request.config is not None:
        command += ["--extra_llm_api_options", str(request.config)]
    return [*command, *request.extra_args]


def plan_pytorch(request: PytorchRequest, base_env: dict[str, str], inventory: GpuInventory | None) -> Launch:
    if request.tp not in (1, 2, 4, 8):
        raise UserError(f"--tp {request.tp}: trtllm-nix launches TP 1, 2, 4 or 8 on one node")
    if request.workers not in WORKER_LAUNCHES:
        raise UserError(f"--workers {request.workers!r}: choose {' or '.join(WORKER_LAUNCHES)}")
    gpus = request.gpus if request.gpus is not None else list(range(request.tp))
    if len(gpus) != request.tp or len(set(gpus)) != len(gpus):
        raise UserError(
            f"--gpus lists {','.join(map(str, gpus))}: TP {request.tp} needs exactly {request.tp} different GPU indices"
        )
    nccl, reason = nccl_settings(inventory, gpus)
    root_mpi = ROOT_MPI if request.is_root and request.workers == "spawn" and request.tp > 1 else {}
    environment, changes = run_environment(base_env, gpus, request.run_dir, {**root_mpi, **nccl})
    command = serve_command(request)
    if request.workers == "spawn" or request.tp == 1:
        return Launch(command, environment, changes, reason)
    mpirun = mpirun_options(environment, request.tp, request.is_root, nccl)
    return Launch([*mpirun, "-n", str(request.tp), request.llmapi_launch, *command], environment, changes, reason)


def llm_api_options(guided: str, given: str | None) -> str | None:
    """The ``--extra_llm_api_options`` text to write for trtllm-serve, or None to pass the user's file (or none) as
    it is. Guided decoding is on by default, as the engine lane's repositories have it (structured outputs and forced
    tool calls are enforced by the server): ``guided_decoding_backend: xgrammar`` is added to the user's options
    unless they set the key themselves (their file decides then). YAML is not parsed here: a line appended to a
    block mapping, which is what trtllm-serve's options file is."""
    if guided == "none" or (given is not None and GUIDED_KEY in given):
        return None
    head = given or ""
    if head and not head.endswith("\n"):
        head += "\n"
    return f"{head}{GUIDED_KEY}: {guided}\n"
