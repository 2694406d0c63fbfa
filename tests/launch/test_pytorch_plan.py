"""The PyTorch lane's launch as data: trtllm-serve's command line at TP 1/2/4, its own worker spawn or mpirun with
trtllm-llmapi-launch, GPUs, NCCL and root settings, and bad input refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import Gpu, GpuInventory
from trtllm_nix.launch.pytorch_plan import PytorchRequest, llm_api_options, plan_pytorch

RUN = Path("/run/trtllm-serve")
MODEL = Path("/models/qwen3")


def _inventory(count: int, nvlink: bool) -> GpuInventory:
    gpus = tuple(Gpu(i, "NVIDIA B200", (10, 0), 180 << 30, 170 << 30) for i in range(count))
    pairs = frozenset((a, b) for a in range(count) for b in range(a + 1, count)) if nvlink else frozenset()
    return GpuInventory(gpus, "580", pairs)


def _request(tp: int, **fields: object) -> PytorchRequest:
    return PytorchRequest(**{"model": MODEL, "tp": tp, "run_dir": RUN, **fields})  # type: ignore[arg-type]


def test_tp1_is_trtllm_serve_with_grpc() -> None:
    launch = plan_pytorch(_request(1, port=50123, max_seq_len=16384), {"PATH": "/bin"}, None)
    assert launch.command == [
        "trtllm-serve", "/models/qwen3", "--grpc", "--backend", "pytorch", "--host", "127.0.0.1",
        "--port", "50123", "--tp_size", "1", "--max_seq_len", "16384",
    ]  # fmt: skip
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == "0"
    assert launch.environment["TMPDIR"] == "/run/trtllm-serve/tmp"
    assert "OMPI_ALLOW_RUN_AS_ROOT" not in launch.environment


@pytest.mark.parametrize("tp", [2, 4])
def test_trtllm_serve_spawns_its_own_workers_by_default(tp: int) -> None:
    """One process: trtllm-serve's LLM API spawns the TP workers (MPI world of one, model world > 1)."""
    launch = plan_pytorch(_request(tp, is_root=True), {"PATH": "/bin"}, _inventory(tp, nvlink=True))
    assert launch.command[0] == "trtllm-serve"
    assert launch.command[launch.command.index("--tp_size") + 1] == str(tp)
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == ",".join(map(str, range(tp)))
    # Open MPI's own root check, for the workers trtllm-serve spawns without mpirun
    assert launch.changes["OMPI_ALLOW_RUN_AS_ROOT"] == launch.changes["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    assert launch.nccl_reason.startswith("NVLink")


def test_mpirun_runs_trtllm_llmapi_launch_on_every_rank() -> None:
    launch = plan_pytorch(
        _request(2, workers="mpirun", is_root=True, gpus=[2, 3]), {"PATH": "/bin"}, _inventory(4, nvlink=False)
    )
    n = launch.command.index("-n")
    assert launch.command[:2] == ["mpirun", "--allow-run-as-root"]
    assert launch.command[n : n + 4] == ["-n", "2", "trtllm-llmapi-launch", "trtllm-serve"]
    exported = {launch.command[i + 1] for i, arg in enumerate(launch.command) if arg == "-x"}
    assert {"CUDA_VISIBLE_DEVICES", "NCCL_P2P_LEVEL", "TMPDIR"} <= exported
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert launch.environment["NCCL_P2P_LEVEL"] == "PHB"  # PCIe only between the chosen GPUs
    assert "OMPI_ALLOW_RUN_AS_ROOT" not in launch.changes  # mpirun's flag says it


def test_the_users_environment_and_arguments_win() -> None:
    launch = plan_pytorch(
        _request(1, config=Path("/etc/extra.yaml"), extra_args=("--log_level", "debug")),
        {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "GPU-abc", "TMPDIR": "/scratch"},
        None,
    )
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == "GPU-abc"
    assert launch.environment["TMPDIR"] == "/scratch"
    assert "CUDA_VISIBLE_DEVICES" not in launch.changes
    assert launch.command[-4:] == ["--extra_llm_api_options", "/etc/extra.yaml", "--log_level", "debug"]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"tp": 3}, "--tp 3: trtllm-nix launches TP 1, 2, 4 or 8"),
        ({"tp": 2, "gpus": [0]}, "TP 2 needs exactly 2 different GPU indices"),
        ({"tp": 2, "gpus": [1, 1]}, "TP 2 needs exactly 2 different GPU indices"),
        ({"tp": 1, "workers": "srun"}, "--workers 'srun': choose spawn or mpirun"),
    ],
)
def test_bad_requests_say_what_to_fix(fields: dict[str, object], said: str) -> None:
    with pytest.raises(UserError, match=said.replace("(", r"\(")):
        plan_pytorch(_request(**fields), {}, None)  # type: ignore[arg-type]


def test_guided_decoding_is_added_to_the_users_options_unless_they_set_it() -> None:
    assert llm_api_options("xgrammar", None) == "guided_decoding_backend: xgrammar\n"
    assert llm_api_options("xgrammar", "kv_cache_config:\n  free_gpu_memory_fraction: 0.8") == (
        "kv_cache_config:\n  free_gpu_memory_fraction: 0.8\nguided_decoding_backend: xgrammar\n"
    )
    assert llm_api_options("xgrammar", "guided_decoding_backend: llguidance\n") is None  # their file decides
    assert llm_api_options("none", "max_batch_size: 8\n") is None
    assert llm_api_options("none", None) is None
