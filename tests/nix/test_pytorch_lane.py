"""The PyTorch lane's flake outputs, read from the stand-in's recorded arguments: trtllm-serve-qwen3[-tp2|-tp4]
enter the TensorRT-LLM release image with the weights as downloaded (no engine), openai-qwen3-pytorch points the
proxy at them, the image is pinned like the Triton image, and smg-grpc-proto is its release wheel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.nix.standin import REPO, checkout, outputs, package
from tests.nix.test_recorded_arguments import run_wrapper

CATALOG = json.loads((REPO / "python" / "trtllm_nix" / "catalog.json").read_text())
VARIANTS = CATALOG["models"]["qwen3-32b"]["pytorch"]["variants"]


@pytest.fixture(scope="module")
def pinned_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkout(tmp_path_factory.mktemp("pinned"), pinned=True)


@pytest.mark.parametrize(("suffix", "variant"), [("", "tp1"), ("-tp2", "tp2"), ("-tp4", "tp4")])
def test_trtllm_serve_runs_the_weights_inside_the_release_image(
    tmp_path: Path, pinned_root: Path, suffix: str, variant: str
) -> None:
    name = f"trtllm-serve-qwen3{suffix}"
    argv = run_wrapper(name, ["--gpus", "4,5,6,7"[: 2 * VARIANTS[variant]["tp"] - 1]], tmp_path, pinned_root)
    weights = outputs(f"{package('qwen3-32b-weights')}.outPath", pinned_root)
    runtime = outputs(f"{package('tensorrt-llm-release')}.outPath", pinned_root)
    assert argv[:3] == ["serve-pytorch", "--model", weights]
    assert argv[argv.index("--tp") + 1] == str(VARIANTS[variant]["tp"])
    assert argv[argv.index("--max-seq-len") + 1] == str(VARIANTS[variant]["max_seq_len"])
    assert argv[argv.index("--runtime") + 1] == runtime
    assert argv[argv.index("--port") + 1] == str(CATALOG["ports"]["trtllm_serve_grpc"])
    assert argv[-2] == "--gpus", "the user's arguments come last and win"
    inputs = outputs(f"map (d: d.name) {package(name)}.standin.args.runtimeInputs")
    assert "bubblewrap" in inputs
    assert outputs(f"{package(name)}.worldSize") == VARIANTS[variant]["tp"]
    assert outputs(f"{package(name)}.checkpoint.outPath", pinned_root) == weights, "no engine between them"


def test_openai_qwen3_pytorch_points_the_proxy_at_trtllm_serve(tmp_path: Path, pinned_root: Path) -> None:
    argv = run_wrapper("openai-qwen3-pytorch", [], tmp_path, pinned_root)
    weights = outputs(f"{package('qwen3-32b-weights')}.outPath", pinned_root)
    assert argv[0] == "proxy"
    port = CATALOG["ports"]["trtllm_serve_grpc"]
    # trtllm-serve-qwen3 starts with guided decoding (serve-pytorch's default), so the proxy enforces guides there
    assert argv[argv.index("--upstream") + 1] == f"grpc-trtllm://127.0.0.1:{port}?guided_decoding=xgrammar"
    assert argv[argv.index("--tokenizer") + 1] == weights, "the served checkpoint's own tokenizer"
    assert argv[argv.index("--model-name") + 1] == "qwen3"
    assert argv[argv.index("--port") + 1] == str(CATALOG["ports"]["proxy"]), "the same port as openai-qwen3"
    assert "--triton" not in argv
    assert "--model-repository" not in argv, "the limits come from the server (GetModelInfo)"
    # the proxy's --upstream takes the last one given: a user's replaces the default
    given = run_wrapper("openai-qwen3-pytorch", ["--upstream", "grpc-trtllm://10.0.0.2:50051"], tmp_path, pinned_root)
    assert given[-2:] == ["--upstream", "grpc-trtllm://10.0.0.2:50051"]


def test_the_release_image_is_pinned_like_the_triton_image(tmp_path: Path) -> None:
    pin = CATALOG["pytorch_runtime"]
    drv = 'self.packages."x86_64-linux".tensorrt-llm-release.root'
    recorded = outputs(
        f"{{ inherit ({drv}) outputHash outputHashMode name; script = {drv}.buildCommand;"
        f" unfree = !{drv}.meta.license.free; }}",
        checkout(tmp_path, pinned=False),
    )
    assert pin["image"] == "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc29"
    assert recorded["name"] == "tensorrt-llm-release-root-1.3.0rc29"
    assert recorded["outputHashMode"] == "recursive"
    assert recorded["outputHash"] == "sha256-" + "A" * 43 + "=", "null: lib.fakeHash, the build prints got:"
    assert f"crane export --platform linux/amd64 {pin['image']} - | tar -xf - -C $out" in recorded["script"]
    assert "pytorch_runtime.image_digest is not set" in recorded["script"]
    assert recorded["unfree"]
    arm = outputs('self.packages."aarch64-linux".tensorrt-llm-release.root.buildCommand')
    assert "crane export --platform linux/arm64 " in arm


def test_smg_grpc_proto_is_its_release_wheel_with_nixpkgs_dependencies() -> None:
    drv = f"{package('trtllm-nix')}.standin.args.dependencies"
    recorded = outputs(
        f'let p = builtins.head (builtins.filter (d: d.pname == "smg-grpc-proto") {drv}); in '
        "{ inherit (p.standin.args) format pythonImportsCheck; deps = map (d: d.pname) p.standin.args.dependencies;"
        " src = p.standin.args.src.standin.args; }"
    )
    assert recorded["format"] == "wheel"
    assert recorded["deps"] == ["grpcio", "protobuf"]
    assert recorded["src"]["url"].endswith("/smg_grpc_proto-0.4.28-py3-none-any.whl")
    assert recorded["src"]["outputHash"] == "sha256-lw3sCowOeLQnWMdpDMe4u/BBb2gP2tRIpPXJuMPmivs="
    assert recorded["pythonImportsCheck"] == ["smg_grpc_proto", "smg_grpc_proto.generated.trtllm_service_pb2_grpc"]
    pyproject = (REPO / "python" / "pyproject.toml").read_text()
    assert '"smg-grpc-proto==0.4.28"' in pyproject, "the wheel is the version the extra pins"


def test_the_newer_model_has_no_engine_only_pytorch_variants() -> None:
    entry = CATALOG["models"]["qwen3.6-27b"]
    assert entry["hf_id"] == "nvidia/Qwen3.6-27B-NVFP4"
    assert entry["variants"] == {}
    assert set(entry["pytorch"]["variants"]) == {"tp1", "tp2"}
    servers = outputs('builtins.attrNames (self.lib.forModel "qwen3.6-27b").pytorch.servers')
    assert servers == ["tp1", "tp2"]
    name = outputs('(self.lib.forModel "qwen3.6-27b").pytorch.servers.tp2.name')
    assert name == "trtllm-serve-qwen3.6-tp2"


def test_smg_grpc_proto_imports_check_names_modules_of_the_wheel() -> None:
    """pythonImportsCheck fails the build on a module the wheel does not have (its modules live in `generated`; the
    package's top level re-exports them as attributes, not modules)."""
    import importlib

    drv = f"{package('trtllm-nix')}.standin.args.dependencies"
    modules = outputs(
        f'(builtins.head (builtins.filter (d: d.pname == "smg-grpc-proto") {drv})).standin.args.pythonImportsCheck'
    )
    for module in modules:
        importlib.import_module(module)
