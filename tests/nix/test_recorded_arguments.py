"""What the flake passes to nixpkgs, read from the stand-in's recorded arguments: the package's dependencies,
the wrappers' command lines (run for real with a recording trtllm-nix on PATH), the engine's build script pinned
and unpinned, and the runtime's fixed-output derivation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.nix.standin import PINS, REPO, checkout, outputs, package

CATALOG = json.loads((REPO / "python" / "trtllm_nix" / "catalog.json").read_text())


def normalise(requirement: str) -> tuple[str, list[str]]:
    match = re.match(r"\s*([A-Za-z0-9._-]+)(?:\[([^\]]+)\])?", requirement)
    assert match, requirement
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]


def test_package_dependencies_cover_pyproject() -> None:
    """Every runtime requirement in pyproject.toml is a dependency (pythonRuntimeDepsCheck fails the build
    otherwise), with the `postgresql` extra (the NixOS proxy's responsesStore needs the driver) and the
    `pytorch-lane` extra (the proxy's grpc-trtllm:// upstream, from nix/smg-grpc-proto.nix), and nothing else is."""
    project = tomllib.loads((REPO / "python" / "pyproject.toml").read_text())["project"]
    recorded = outputs(f"map (d: d.pname) {package('trtllm-nix')}.standin.args.dependencies")
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["postgresql"] + extras["pytorch-lane"]
    names = [normalise(r)[0] for r in wanted]
    assert "psycopg" in recorded
    assert "smg-grpc-proto" in recorded
    assert set(names) <= set(recorded), f"missing from nix/package.nix: {set(names) - set(recorded)}"
    extras = {"grpcio", "packaging"}  # tritonclient[grpc] as nixpkgs declares it
    assert set(recorded) - set(names) <= extras
    assert outputs(f"{package('trtllm-nix')}.version") == project["version"]


def test_no_global_cuda_rebuild_and_only_the_runtime_is_unfree() -> None:
    """cudaSupport = true for the whole set rebuilds openmpi, ucx and torch locally (the cache has no CUDA variants)."""
    assert outputs(f"{package('trtllm-nix')}.standin.config") == ["allowUnfreePredicate"]
    # the stand-in refuses unfree packages the predicate does not allow, as nixpkgs' check-meta does
    assert outputs(f"{package('tritonserver-trtllm')}.meta.license.free") is False


def run_wrapper(name: str, args: list[str], tmp_path: Path, root: Path = REPO) -> list[str]:
    """The wrapper's script, run by bash with a trtllm-nix on PATH that prints its arguments."""
    text = outputs(f"{package(name)}.standin.args.text", root)
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "trtllm-nix"
    fake.write_text("#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    # writeShellApplication's prologue
    script = "set -o errexit\nset -o nounset\nset -o pipefail\n" + text
    result = subprocess.run(
        ["bash", "-c", script, name, *args],
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    argv: list[str] = json.loads(result.stdout)
    return argv


def upstreams(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == "--triton"] + [
        arg.removeprefix("--triton=") for arg in argv if arg.startswith("--triton=")
    ]


@pytest.fixture(scope="module")
def pinned_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkout(tmp_path_factory.mktemp("pinned"), pinned=True)


def test_proxy_wrapper_passes_the_upstream_once(tmp_path: Path, pinned_root: Path) -> None:
    argv = run_wrapper("openai-qwen3", [], tmp_path, pinned_root)
    assert argv[0] == "proxy"
    assert upstreams(argv) == ["127.0.0.1:8001"]
    assert argv.count("--port") == 1
    assert argv[argv.index("--model-name") + 1] == "qwen3"


def test_proxy_wrapper_serves_what_the_repository_serves(tmp_path: Path, pinned_root: Path) -> None:
    """The engine's limits come from the repository (max_model_len, over-long prompts as 400s, a clamped answer as
    `length`), the tokenizer is the engine's own copy: nothing is downloaded for the proxy."""
    argv = run_wrapper("openai-qwen3", [], tmp_path, pinned_root)
    repository = outputs(f"{package('qwen3-32b-triton-repo')}.outPath", pinned_root)
    engine = outputs(f"{package('qwen3-32b-engine')}.outPath", pinned_root)
    assert argv[argv.index("--model-repository") + 1] == repository
    assert argv[argv.index("--tokenizer") + 1] == f"{engine}/tokenizer"


@pytest.mark.parametrize("given", [["--triton", "10.0.0.2:8001"], ["--triton=10.0.0.2:8001"]])
def test_a_users_triton_replaces_the_default(tmp_path: Path, pinned_root: Path, given: list[str]) -> None:
    """The proxy's --triton accumulates (action=append): a second, dead upstream would be load-balanced to."""
    argv = run_wrapper("openai-qwen3", [*given, "--max-in-flight", "8"], tmp_path, pinned_root)
    assert upstreams(argv) == ["10.0.0.2:8001"]
    assert argv[-2:] == ["--max-in-flight", "8"]


@pytest.mark.parametrize("variant", ["", "-tp2", "-tp4"])
def test_servers_enter_the_runtime(tmp_path: Path, variant: str) -> None:
    name = f"tritonserver-qwen3{variant}"
    runtime = outputs(f"{package('tritonserver-trtllm')}.outPath")
    argv = run_wrapper(name, ["--http-port", "18000"], tmp_path)
    assert argv[:2] == ["serve", "--repo"]
    assert argv.count("--runtime") == 1
    assert argv[argv.index("--runtime") + 1] == runtime
    assert "--tritonserver" not in argv
    assert argv[-2:] == ["--http-port", "18000"]
    inputs = outputs(f"map (d: d.name) {package(name)}.standin.args.runtimeInputs")
    assert "bubblewrap" in inputs
    assert not any("openmpi" in i for i in inputs), "the image's own mpirun is used"


def engine(root: Path, variant: str = "-tp4") -> dict[str, object]:
    drv = package(f"qwen3-32b-engine{variant}")
    result: dict[str, object] = outputs(
        f"""{{ script = {drv}.standin.args.buildCommand;
        inputs = map (d: d.name) {drv}.standin.args.nativeBuildInputs;
        features = {drv}.standin.args.requiredSystemFeatures or null;
        sandboxedFeatures = {drv}.sandboxed.standin.args.requiredSystemFeatures;
        sandboxedScript = {drv}.sandboxed.standin.args.buildCommand;
        weights = {package("qwen3-32b-weights")}.outPath;
        weightsHash = {package("qwen3-32b-weights")}.outputHash or null;
        weightsScript = {package("qwen3-32b-weights")}.buildCommand;
        runtime = {package("tritonserver-trtllm")}.outPath; }}""",
        root,
    )
    return result


def test_the_seed_engine_asks_no_system_feature_and_its_sandboxed_twin_does(tmp_path: Path) -> None:
    """`nix build .#qwen3-32b-engine --option sandbox false` must build on any host whose user is trusted: a
    required `cuda` feature is checked whatever the sandbox, and `--option extra-system-features` never reaches the
    daemon's store. `.sandboxed` (NixOS programs.nix-required-mounts) asks for it."""
    built = engine(checkout(tmp_path, pinned=True))
    assert built["features"] is None
    assert built["sandboxedFeatures"] == ["cuda"]
    assert built["sandboxedScript"] == built["script"], "the same build, only where it may run differs"


def test_unpinned_engine_takes_the_weights_from_their_own_download_which_warns(tmp_path: Path) -> None:
    built = engine(checkout(tmp_path, pinned=False))
    script = str(built["script"])
    assert f"--model {built['weights']} " in script
    assert str(built["weights"]).endswith("-qwen3-32b-weights-unpinned")
    assert built["weightsHash"] is None, "unpinned weights are no fixed-output derivation"
    weights = str(built["weightsScript"])
    assert "hf download nvidia/Qwen3-32B-NVFP4 --revision main" in weights
    assert "not reproducible" in weights
    assert "--option sandbox false as a trusted user" in weights, "the failure says what to do"
    assert "trtllm-nix catalog lock qwen3-32b" in weights
    assert f"--runtime {built['runtime']} " in script
    assert "--tp 4 --pp 1" in script
    sandboxed = str(built["sandboxedScript"])
    assert "a sandboxed engine build cannot download it" in sandboxed


def test_pinned_engine_uses_the_fixed_output_weights(tmp_path: Path) -> None:
    built = engine(checkout(tmp_path, pinned=True))
    script = str(built["script"])
    assert f"--model {built['weights']} " in script
    assert str(built["weights"]).endswith("-qwen3-32b-weights-0123456789ab")
    assert built["weightsHash"] == PINS["weights_hash"]
    assert "warning" not in script
    assert "cannot download" not in str(built["sandboxedScript"])
    assert f"--runtime {built['runtime']} " in script
    # the architecture is asked of the build (refused on another GPU); the source is named, not its store path
    assert "--gpu-arch sm100 " in script
    for given in (
        "hf_id=nvidia/Qwen3-32B-NVFP4",
        f"revision={PINS['revision']}",
        f"weights_hash={PINS['weights_hash']}",
    ):
        assert f"--provenance {given}" in script
    assert "bubblewrap" in built["inputs"]  # type: ignore[operator]


def test_an_engine_for_another_architecture_is_another_derivation(tmp_path: Path) -> None:
    root = checkout(tmp_path, pinned=True)
    engine = (
        '(self.lib.forSystem "aarch64-linux").mkEngine { model = "qwen3-32b"; variant = "tp1"; gpuArch = "sm121"; }'
    )
    spark = outputs(f"let e = {engine}; in {{ inherit (e) name; path = e.outPath; script = e.buildCommand; }}", root)
    assert spark["name"] == "qwen3-32b-nvfp4-tp1-sm121-trtllm1.1.0"
    assert "--gpu-arch sm121 " in spark["script"]
    assert spark["path"] != outputs(f"{package('qwen3-32b-engine')}.outPath", root)


def test_pinned_downloads_are_fixed_output_at_the_commit(tmp_path: Path) -> None:
    root = checkout(tmp_path, pinned=True)
    for what, key in (("weights", "weights_hash"), ("tokenizer", "tokenizer_hash")):
        drv = package(f"qwen3-32b-{what}")
        recorded = outputs(f"{{ inherit ({drv}) outputHash outputHashMode; script = {drv}.buildCommand; }}", root)
        assert recorded["outputHash"] == PINS[key]
        assert recorded["outputHashMode"] == "recursive"
        assert f"--revision {PINS['revision']} " in recorded["script"]


def runtime(root: Path, system: str = "x86_64-linux", part: str = "root") -> dict[str, str]:
    drv = f'self.packages."{system}".tritonserver-trtllm.{part}'
    result: dict[str, str] = outputs(
        f"{{ inherit ({drv}) outputHash outputHashMode; script = {drv}.buildCommand; name = {drv}.name;"
        f" inputs = map (d: d.name) {drv}.standin.args.nativeBuildInputs; }}",
        root,
    )
    return result


def test_runtime_is_the_image_root_pinned_by_its_output_hash(tmp_path: Path) -> None:
    recorded = runtime(checkout(tmp_path, pinned=False))
    pin = CATALOG["runtime"]["systems"]["x86_64-linux"]
    assert recorded["outputHash"] == pin["output_hash"]
    assert recorded["outputHashMode"] == "recursive"
    image = CATALOG["runtime"]["image"]
    # exactly the extraction the recorded hash was computed for, by tag while no digest is recorded, for the
    # platform named (crane exports linux/amd64 without --platform, whatever the host)
    assert f"crane export --platform linux/amd64 {image} - | tar -xf - -C $out" in recorded["script"]
    assert "warning" in recorded["script"]
    assert recorded["inputs"] == ["crane", "gnutar"], "no autoPatchelf, nothing copied out"


def test_aarch64_runtime_is_the_arm64_export_with_its_own_hash(tmp_path: Path) -> None:
    recorded = runtime(checkout(tmp_path, pinned=False), "aarch64-linux")
    assert recorded["outputHash"] == "sha256-9hMiF7lZKLI64EMPQsb924VDG6L3wsTESmEVd85zAAU="
    assert "crane export --platform linux/arm64 " in recorded["script"]


def test_the_image_config_is_its_own_fixed_output_derivation(tmp_path: Path) -> None:
    """`crane config` in a flat fixed-output derivation beside the root: the root's recorded hash stays valid."""
    root = checkout(tmp_path, pinned=True, config_hash=True)
    config = runtime(root, part="config")
    assert config["outputHash"] == PINS["config_hash"]
    assert config["outputHashMode"] == "flat"
    image = f"{CATALOG['runtime']['image']}@{PINS['image_digest']}"
    assert f"crane config --platform linux/amd64 {image} > $out" in config["script"]
    folder = outputs('self.packages."x86_64-linux".tritonserver-trtllm.buildCommand', root)
    assert "$out/root" in folder
    assert "$out/image-config.json" in folder
    unpinned = outputs('self.packages."x86_64-linux".tritonserver-trtllm.buildCommand')
    assert "image-config.json" not in unpinned, "no config pinned: the entry uses the 25.12 defaults and says so"


def test_registry_credentials_come_through_extra_sandbox_paths(tmp_path: Path) -> None:
    root = checkout(tmp_path, pinned=False)
    for part in ("root", "config"):
        script = runtime(root, part=part)["script"]
        assert "if [ -r /etc/nix/docker/config.json ]; then export DOCKER_CONFIG=/etc/nix/docker; fi" in script


def test_runtime_with_a_digest_and_without_a_hash(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pinned = runtime(checkout(tmp_path / "a", pinned=True))
    assert (
        f"crane export --platform linux/amd64 {CATALOG['runtime']['image']}@{PINS['image_digest']} -"
        in pinned["script"]
    )
    assert "warning" not in pinned["script"]
    unhashed = runtime(checkout(tmp_path / "b", pinned=False, runtime_hash=False))
    assert unhashed["outputHash"] == "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", (
        "lib.fakeHash: got: prints it"
    )


@pytest.mark.parametrize(
    "name",
    ["openai-qwen3", "tritonserver-qwen3", "tritonserver-qwen3-tp2", "tritonserver-qwen3-tp4", "demo",
     "trtllm-serve-qwen3", "trtllm-serve-qwen3-tp2", "trtllm-serve-qwen3-tp4", "openai-qwen3-pytorch"],
)  # fmt: skip
def test_wrapper_scripts_pass_shellcheck(name: str, pinned_root: Path, tmp_path: Path) -> None:
    """nixpkgs' writeShellApplication runs shellcheck on `text` when it builds: a warning fails the build."""
    script = tmp_path / "script.sh"
    script.write_text("#!/usr/bin/env bash\n" + outputs(f"{package(name)}.standin.args.text", pinned_root))
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_imports_check_names_modules_that_exist() -> None:
    """pythonImportsCheck fails the build on a module that is not there (a rename in python/ must update it)."""
    modules = outputs(f"{package('trtllm-nix')}.standin.args.pythonImportsCheck")
    assert "trtllm_nix.cli" in modules
    for module in modules:
        base = REPO / "python" / Path(*module.split("."))
        assert base.with_suffix(".py").is_file() or (base / "__init__.py").is_file(), module
