"""The units as the real nixpkgs.lib evaluates them (docs/nix-module-check.txt, scripts/nix-module-check): logs in
the journal, restart with bounded backoff, ordering after the GPU daemons, and hardening that leaves bubblewrap what
it needs (tests/runtime/test_hardened_entry.py runs the entry under the settings that touch it)."""

from __future__ import annotations

import json

from tests.nix.standin import REPO

# Settings that take from bubblewrap what it needs: a user namespace, mount/pivot_root/setgroups inside it.
BREAKS_BUBBLEWRAP = ("RestrictNamespaces", "SystemCallFilter", "PrivateUsers")


def units() -> dict[str, dict[str, object]]:
    """Each unit of the first (good) configuration: its hardening, ordering and environment."""
    text = (REPO / "docs" / "nix-module-check.txt").read_text().split("\n\n")[0]
    found: dict[str, dict[str, object]] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("["):
            name = line.strip("[]")
            found[name] = {}
        elif " = " in line and name:
            key, value = line.strip().split(" = ", 1)
            found[name][key] = json.loads(value)
    return found


def test_every_unit_is_hardened_without_breaking_bubblewrap() -> None:
    for name, unit in units().items():
        hardening = unit["hardening"]
        assert isinstance(hardening, dict)
        assert hardening["CapabilityBoundingSet"] == "", name
        for key in ("ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "RestrictRealtime",
                    "LockPersonality", "NoNewPrivileges"):  # fmt: skip
            assert hardening[key] is True, (name, key)
        assert hardening["RestrictAddressFamilies"] == ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"]
        assert not set(BREAKS_BUBBLEWRAP) & set(hardening), name


def test_restart_backs_off_and_is_never_given_up() -> None:
    for name, unit in units().items():
        hardening = unit["hardening"]
        assert isinstance(hardening, dict)
        assert (hardening["Restart"], hardening["RestartSteps"], hardening["RestartMaxDelaySec"]) == (
            "on-failure",
            10,
            300,
        ), name
        assert unit["startLimitIntervalSec"] == 0, name


def test_triton_units_log_to_the_journal_and_wait_for_the_gpu_daemons() -> None:
    tritons = {name: unit for name, unit in units().items() if name != "trtllm-proxy"}
    assert tritons
    for name, unit in tritons.items():
        environment = unit["environment"]
        assert isinstance(environment, dict)
        assert environment["TRTLLM_NIX_LOG_TO_STDOUT"] == "1", name
        assert {"nvidia-persistenced.service", "nvidia-fabricmanager.service"} <= set(unit["after"])  # type: ignore[arg-type]


def section(title: str) -> str:
    """The part of docs/nix-module-check.txt under the header that starts with ``== title``."""
    text = (REPO / "docs" / "nix-module-check.txt").read_text()
    return next(part for part in text.split("\n== ") if part.startswith(title) or part.startswith("== " + title))


def units_of(title: str) -> tuple[dict[str, dict[str, object]], list[int]]:
    found: dict[str, dict[str, object]] = {}
    firewall: list[int] = []
    name = ""
    for line in section(title).splitlines():
        if line.startswith("["):
            name = line.strip("[]")
            found[name] = {}
        elif line.startswith("firewall = "):
            firewall = json.loads(line.split(" = ", 1)[1])
        elif " = " in line and name:
            key, value = line.strip().split(" = ", 1)
            found[name][key] = json.loads(value)
    return found, firewall


def test_the_two_host_example_runs_the_gateway_on_one_host_with_its_key_as_a_credential() -> None:
    """examples/gateway-two-hosts.nix: SMG on gpu-a in front of both proxies, the key read from a credential (never
    on the command line), the proxies on one PostgreSQL Responses store, the password as a credential too."""
    a, firewall_a = units_of("examples/gateway-two-hosts.nix, host gpu-a")
    b, firewall_b = units_of("examples/gateway-two-hosts.nix, host gpu-b")
    assert set(a) == {"trtllm-gateway", "trtllm-proxy", "trtllm-qwen3"}
    assert set(b) == {"trtllm-proxy", "trtllm-qwen3"}
    gateway = a["trtllm-gateway"]
    command = str(gateway["ExecStart"])
    assert command.startswith('"/nix/store/stub-smg/bin/smg-keyfile" %d/api-key "launch" ')
    assert '"--worker-urls" "http://10.0.0.11:9000" "http://10.0.0.12:9000"' in command
    assert '"--policy" "cache_aware"' in command
    assert '"--health-check-endpoint" "/health/ready"' in command
    assert "--api-key" not in command  # smg-keyfile adds it inside the process
    assert gateway["LoadCredential"] == ["api-key:/run/secrets/trtllm-api-key"]
    hardening = gateway["hardening"]
    assert isinstance(hardening, dict)
    assert (hardening["RestrictNamespaces"], hardening["PrivateUsers"], hardening["ProtectProc"]) == (
        True,
        True,
        "invisible",
    )  # no bubblewrap in this unit: the namespace settings the others must leave out are on
    assert sorted(firewall_a) == [9000, 29000, 30000]
    assert firewall_b == [9000]
    for host in (a, b):
        proxy = host["trtllm-proxy"]
        environment = proxy["environment"]
        assert isinstance(environment, dict)
        assert environment["TRTLLM_NIX_PROXY_RESPONSES_STORE"] == "postgresql://trtllm@db.internal:5432/trtllm"
        assert environment["PGPASSFILE"] == "%d/pgpass"
        assert proxy["LoadCredential"] == ["api-key:/run/secrets/trtllm-api-key", "pgpass:/run/secrets/trtllm-pgpass"]


def test_a_broken_gateway_is_refused_with_a_message_naming_the_option() -> None:
    broken = section("a gateway without workers") + section("a gateway without an API key file")
    for message in (
        "services.trtllm.gateway.workers must list at least one proxy URL",
        "services.trtllm.gateway.workers are URLs (http://HOST:PORT), got 10.0.0.12:9000",
        "services.trtllm.proxy.apiKeyFile must be set behind the gateway",
        "every instance, the proxy and the gateway need their own ports (got 30000 30000)",
        "services.trtllm.gateway.apiKeyFile' was accessed but has no value defined",
        "services.trtllm.gateway.policy' is not of type",
    ):
        assert message in broken, message


def test_a_pytorch_instance_runs_trtllm_serve_and_the_proxy_points_at_it() -> None:
    """kind = "pytorch": `trtllm-nix serve-pytorch` on the checkpoint inside the release image, ready when its gRPC
    port accepts, only that port opened; the proxy in front of it takes the checkpoint's tokenizer and
    --upstream grpc-trtllm:// (no repository); a Triton instance beside it is unchanged."""
    units, firewall = units_of("the PyTorch lane")
    torch = units["trtllm-torch"]
    command = str(torch["ExecStart"])
    assert command.startswith('"/nix/store/stub-trtllm-nix/bin/trtllm-nix" "serve-pytorch" ')
    for part in ('"--model" "/nix/store/qwen3-32b-weights"', '"--tp" "2"', '"--gpus" "0,1"', '"--port" "50051"',
                 '"--runtime" "/nix/store/stub-tensorrt-llm-release"', '"--max-seq-len" "24576"',
                 '"--guided-decoding" "xgrammar"'):  # fmt: skip
        assert part in command, part
    assert "/dev/tcp/127.0.0.1/50051" in str(torch["ExecStartPost"])
    assert torch["DeviceAllow"] == ["char-nvidiactl", "char-nvidia-caps", "char-nvidia-frontend", "char-nvidia-uvm"]
    assert firewall == [50051]
    proxy = str(units["trtllm-proxy"]["ExecStart"])
    assert '"--upstream" "grpc-trtllm://127.0.0.1:50051?guided_decoding=xgrammar"' in proxy
    assert '"--tokenizer" "/nix/store/qwen3-32b-weights"' in proxy
    assert "--model-repository" not in proxy
    assert "--triton" not in proxy
    assert units["trtllm-proxy"]["after"] == ["trtllm-torch.service"]
    assert '"serve" "--repo" "/nix/store/repo-tp1"' in str(units["trtllm-engine"]["ExecStart"])


def test_a_pytorch_instance_without_a_checkpoint_or_at_tp3_is_refused() -> None:
    broken = section("kind pytorch without a checkpoint")
    assert "services.trtllm.instances.torch (kind pytorch) needs checkpoint" in broken
    assert "trtllm-serve runs TP 1, 2, 4 or 8 on one host, not 3" in broken
