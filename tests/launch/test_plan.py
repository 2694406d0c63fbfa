"""The launch as data: command lines and environment for world sizes 1, 2 and 4, NVLink and PCIe, user overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import Gpu, GpuInventory
from trtllm_nix.launch.plan import LaunchRequest, default_run_dir, parse_gpus, plan_launch

RUN = Path("/run/trtllm")


def _inventory(count: int, nvlink: bool) -> GpuInventory:
    gpus = tuple(Gpu(i, "NVIDIA B200", (10, 0), 180 << 30, 170 << 30) for i in range(count))
    pairs = frozenset((a, b) for a in range(count) for b in range(a + 1, count)) if nvlink else frozenset()
    return GpuInventory(gpus, "580", pairs)


def _request(world: int, **fields: object) -> LaunchRequest:
    base: dict[str, object] = {
        "repository": Path("/repo"),
        "world_size": world,
        "generator_model": "tensorrt_llm",
        "tritonserver": "/opt/tritonserver/bin/tritonserver",
        "run_dir": RUN,
        "launch_id": "abc",
    }
    return LaunchRequest(**{**base, **fields})  # type: ignore[arg-type]


def _apps(command: list[str]) -> list[list[str]]:
    apps, current = [], []
    for arg in command[command.index("-n") :]:
        if arg == ":":
            apps.append(current)
            current = []
        else:
            current.append(arg)
    return [*apps, current]


def test_world_size_one_runs_tritonserver_directly() -> None:
    launch = plan_launch(_request(1), {"PATH": "/bin"}, None)
    assert launch.command[0] == "/opt/tritonserver/bin/tritonserver"
    assert "--disable-auto-complete-config" in launch.command
    assert "--backend-config=python,shm-region-prefix-name=prefix0_abc_" in launch.command
    assert not any(arg.startswith("--load-model") for arg in launch.command)
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == "0"
    assert launch.environment["TMPDIR"] == launch.environment["TMP"] == launch.environment["TEMP"] == "/run/trtllm/tmp"


@pytest.mark.parametrize("world", [2, 4])
def test_one_app_context_per_rank(world: int) -> None:
    launch = plan_launch(_request(world, is_root=True), {"PATH": "/bin"}, _inventory(world, nvlink=True))
    assert launch.command[:2] == ["mpirun", "--allow-run-as-root"]
    apps = _apps(launch.command)
    assert len(apps) == world
    for rank, app in enumerate(apps):
        assert app[:2] == ["-n", "1"]
        assert f"--backend-config=python,shm-region-prefix-name=prefix{rank}_abc_" in app
        assert "--disable-auto-complete-config" in app
        worker = ["--model-control-mode=explicit", "--load-model=tensorrt_llm"]
        assert all(flag in app for flag in worker) is (rank > 0)
    exported = [launch.command[i + 1] for i, arg in enumerate(launch.command) if arg == "-x"]
    assert {"PATH", "CUDA_VISIBLE_DEVICES", "TMPDIR", "OMPI_MCA_orte_tmpdir_base"} <= set(exported)
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == ",".join(map(str, range(world)))


def test_not_root_means_no_allow_run_as_root() -> None:
    assert "--allow-run-as-root" not in plan_launch(_request(2), {}, None).command


def test_nvlink_keeps_ncccls_defaults_and_pcie_sets_them() -> None:
    nvlink = plan_launch(_request(4), {}, _inventory(4, nvlink=True))
    assert not any(key.startswith("NCCL_") for key in nvlink.environment)
    assert nvlink.nccl_reason.startswith("NVLink")
    pcie = plan_launch(_request(2, gpus=[2, 3]), {}, _inventory(4, nvlink=False))
    assert {k: pcie.environment[k] for k in ("NCCL_P2P_LEVEL", "NCCL_IB_DISABLE", "NCCL_SHM_DISABLE")} == {
        "NCCL_P2P_LEVEL": "PHB",
        "NCCL_IB_DISABLE": "1",
        "NCCL_SHM_DISABLE": "0",
    }
    assert pcie.environment["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert "-x" in pcie.command
    assert "NCCL_P2P_LEVEL" in pcie.command


def test_user_settings_win() -> None:
    user = {"NCCL_P2P_LEVEL": "NVL", "TMPDIR": "/scratch", "CUDA_VISIBLE_DEVICES": "7,6"}
    launch = plan_launch(_request(2), user, _inventory(2, nvlink=False))
    assert launch.environment["NCCL_P2P_LEVEL"] == "NVL"
    assert launch.environment["NCCL_IB_DISABLE"] == "1"
    assert launch.environment["TMPDIR"] == "/scratch"
    assert launch.environment["CUDA_VISIBLE_DEVICES"] == "7,6"
    assert "NCCL_P2P_LEVEL" not in launch.changes


def test_hostfile_for_several_nodes() -> None:
    launch = plan_launch(_request(4, hostfile=Path("/etc/hosts.mpi")), {}, None)
    assert launch.command[launch.command.index("--hostfile") + 1] == "/etc/hosts.mpi"
    assert "--oversubscribe" not in launch.command


@pytest.mark.parametrize(
    ("gpus", "message"),
    [
        ([0, 1], "needs 4 GPUs (its TP x PP), but --gpus lists 2 (0,1); pass exactly 4 indices"),
        ([0, 0, 1, 2], "--gpus lists a GPU twice"),
        ([0, 1, 2, 9], "--gpus names GPU 9, but this machine has 4 GPU(s)"),
    ],
)
def test_wrong_gpus_are_refused_before_anything_starts(gpus: list[int], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_launch(_request(4, gpus=gpus), {}, _inventory(4, nvlink=True))


def test_print_command_is_a_shell_script() -> None:
    text = plan_launch(_request(2), {}, None).shell()
    assert "export TMPDIR=/run/trtllm/tmp" in text
    assert text.splitlines()[-1].startswith("mpirun ")


def test_multi_node_keeps_infiniband_on_pcie_nodes() -> None:
    """The local GPUs say nothing about the links between nodes: a hostfile launch must not turn InfiniBand off."""
    launch = plan_launch(_request(4, hostfile=Path("/etc/hosts.mpi")), {}, _inventory(4, nvlink=False))
    assert "NCCL_IB_DISABLE" not in launch.environment
    assert "NCCL_IB_DISABLE" not in launch.command
    assert launch.environment["NCCL_P2P_LEVEL"] == "PHB"
    assert "InfiniBand" in launch.nccl_reason


def test_the_ranks_get_the_chosen_nccl_settings_then_the_users() -> None:
    user = {"PATH": "/bin", "NCCL_DEBUG": "INFO"}
    launch = plan_launch(_request(2), user, _inventory(2, nvlink=False))
    exported = [launch.command[i + 1] for i, arg in enumerate(launch.command) if arg == "-x"]
    assert exported[exported.index("NCCL_IB_DISABLE") :] == [
        "NCCL_IB_DISABLE",
        "NCCL_P2P_LEVEL",
        "NCCL_SHM_DISABLE",
        "NCCL_DEBUG",
    ]


def test_gpus_and_the_run_folder_as_both_serve_commands_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse_gpus("2,0") == [2, 0]
    assert parse_gpus(None) is None
    with pytest.raises(UserError, match="--gpus must be comma-separated integers, got '0,x'"):
        parse_gpus("0,x")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_run_dir(None, "trtllm-serve") == tmp_path.resolve() / f"trtllm-serve-{os.getpid()}"
    assert default_run_dir(Path("relative"), "trtllm-serve") == Path("relative").resolve()
