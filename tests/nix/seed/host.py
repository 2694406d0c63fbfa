"""The host's side of the executing stand-in nixpkgs: what its builders reach outside the store.

- ``site``: the modules of trtllm-nix's declared dependencies (the closure of ``project.dependencies`` in the test
  virtualenv, copied), standing for one nixpkgs store path per Python package. An undeclared import fails in a
  Nix-built program here as it would with nixpkgs.
- ``image``: the stand-in image root (scripts/build-standin-root) with the stand-ins a TensorRT-LLM image carries
  (``tensorrt_llm`` and ``trtllm-build`` of tests/standins, the C++ backend as a Python-based backend, NVML), as
  the one tar stream ``crane export`` writes; its NAR hash is the runtime pin of the seed's catalog.
  The same image stands for the PyTorch lane's (NVIDIA's tensorrt-llm/release): it also carries a stand-in
  ``trtllm-serve`` (the reference TrtllmService) and ``trtllm-llmapi-launch``, and its hash pins both runtimes.
- ``hub``: a ModelOpt NVFP4 export of the tiny Qwen3 (real Qwen vocabulary and chat template) filed under
  ``nvidia/Qwen3-32B-NVFP4``, for the stand-in ``hf download``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from trtllm_nix_testkit.assets.build import Assets

from tests.engine.checkpoints import make_checkpoint

REPO = Path(__file__).resolve().parents[3]
STANDINS = REPO / "tests" / "standins"
IMAGE_FILES = Path(__file__).resolve().parent / "image"
SEED_MODEL = "nvidia/Qwen3-32B-NVFP4"


@dataclass(frozen=True)
class Host:
    shell: str
    python: str
    site: str
    image: str
    hub: str
    image_hash: str
    config_hash: str

    def write(self, standin_nixpkgs: Path) -> None:
        (standin_nixpkgs / "host.json").write_text(json.dumps(asdict(self), indent=2) + "\n")


def prepare(work: Path, standin_root: Path, assets: Assets) -> Host:
    """Everything under ``work`` (readable by the build users and the seed's user)."""
    site = work / "site"
    if not site.exists():
        # the package's dependencies, plus its build system and the tool of nixpkgs' pypa install hook
        copy_dependency_closure(["trtllm-nix", "setuptools", "pip"], site)
    bare = work / "python"  # the interpreter alone, stdlib only (Debian's own sees /usr/lib/python3/dist-packages)
    if not bare.exists():
        subprocess.run(["/usr/bin/python3.11", "-m", "venv", "--without-pip", bare], check=True)
    image_dir, image_tar = work / "image", work / "image.tar"
    if not image_tar.exists():
        compose_image(standin_root, image_dir)
        subprocess.run(["tar", "-C", image_dir, "-cf", image_tar, "."], check=True)
    image_hash = nar_hash(image_dir)
    # what the stand-in `crane config` prints, hashed flat as nix/runtime.nix's config derivation is
    digest = hashlib.sha256((image_dir / ".image-config.json").read_bytes()).digest()
    config_hash = "sha256-" + base64.b64encode(digest).decode()
    hub = work / "hub"
    if not (hub / SEED_MODEL).exists():
        make_checkpoint(hub / SEED_MODEL, "NVFP4", "legacy", tokenizer=assets.tokenizer)
    subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)
    return Host(
        "/bin/bash", str(bare / "bin" / "python3.11"), str(site), str(image_tar), str(hub), image_hash, config_hash
    )


PIN = "5eed0000000000000000000000000000c0ffee00"  # the stand-in Hub's "commit" of the seed's model

SMG_GRPC_PROTO = "smg-grpc-proto==0.4.28"  # nix/smg-grpc-proto.nix's wheel


def prefetch_wheel(work: Path, python: str) -> str:
    """smg-grpc-proto's release wheel put into the store by hand (as `nix-store --add-fixed` after a prefetch does):
    the stand-in fetchurl has no network, and the Nix package depends on it. Returns its store path."""
    folder = work / "wheels"
    if not any(folder.glob("*.whl")):
        subprocess.run(
            [python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", folder, SMG_GRPC_PROTO],
            check=True,
        )
    wheel = next(folder.glob("*.whl"))
    added = subprocess.run(["nix-store", "--add-fixed", "sha256", wheel], capture_output=True, text=True, check=True)
    return added.stdout.strip()


def prefetch_weights(work: Path, host: Host, patterns: list[str], name: str) -> str:
    """The weights as their pinned fixed-output download would produce them, put into the store by hand (as
    `nix-store --add-fixed` after a prefetch does): a sandboxed build then needs no network. Returns the hash."""
    folder = work / "prefetch" / name
    shutil.rmtree(folder.parent, ignore_errors=True)
    folder.mkdir(parents=True)
    source = Path(host.hub) / SEED_MODEL
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = str(file.relative_to(source))
        if any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, folder / relative)
    digest = nar_hash(folder)
    path = subprocess.run(
        ["nix-store", "--print-fixed-path", "--recursive", "sha256", digest, name],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    forget(path)  # with the engines built from it before: the sandboxed engine is built anew
    subprocess.run(["nix-store", "--add-fixed", "--recursive", "sha256", folder], capture_output=True, check=True)
    return digest


def forget(path: str) -> None:
    """Remove ``path`` and everything that refers to it from the store, so the seed builds them anew (a machine
    that ran it before has them; CI's has not)."""
    if subprocess.run(["nix-store", "--check-validity", path], capture_output=True).returncode != 0:
        return
    referrers = subprocess.run(
        ["nix-store", "--query", "--referrers-closure", path], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run(["nix-store", "--delete", *referrers], capture_output=True, text=True, check=True)


def nar_hash(path: Path) -> str:
    result = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "hash", "path", "--sri", "--type", "sha256", path],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def copy_dependency_closure(roots: list[str], dest: Path) -> None:
    """The installed files of ``roots`` and of every distribution they require (transitively, extras off except
    tritonclient's grpc, the one trtllm-nix names)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        requirement = todo.pop()
        match = re.match(r"\s*([A-Za-z0-9._-]+)(\[([^\]]+)\])?", requirement)
        assert match, requirement
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        extras = set((match.group(3) or "").split(",")) - {""}
        if name == "tritonclient":
            extras.add("grpc")
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an environment marker for another platform or Python
        for requires in dist.requires or []:
            marker = re.search(r'extra == "([^"]+)"', requires)
            if marker is None or marker.group(1) in extras:
                todo.append(requires.split(";")[0])
        base = Path(str(dist.locate_file("")))
        for file in dist.files or [] if name != "trtllm-nix" else []:  # its dependencies, not itself
            source = base / file
            if source.is_file() and ".." not in file.parts:
                target = dest / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)


def compose_image(base: Path, dest: Path) -> None:
    """The stand-in image: the base root plus what NVIDIA's TensorRT-LLM image carries, stand-ins all."""
    shutil.rmtree(dest, ignore_errors=True)
    # the image's files only: no device nodes (an image has none; tar as a build user could not make them)
    subprocess.run(["cp", "-a", f"{base}/.", dest], check=True)
    for node in dest.rglob("*"):
        if not (node.is_symlink() or node.is_file() or node.is_dir()):
            node.unlink()
    site = dest / "usr/local/lib/python3.11/dist-packages"
    shutil.copytree(STANDINS / "tensorrt_llm", site / "tensorrt_llm", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(IMAGE_FILES / "pynvml.py", site / "pynvml.py")
    for tool in ("trtllm-build", "trtllm-bench"):
        shutil.copy(STANDINS / "bin" / tool, dest / "usr/local/bin" / tool)
    # the PyTorch lane's programs (the release image has them on PATH): trtllm-serve (the reference TrtllmService)
    # and trtllm-llmapi-launch, with the reference server's gRPC modules (this interpreter's: both are CPython 3.11)
    for tool in ("trtllm-serve", "trtllm-llmapi-launch"):
        shutil.copy(IMAGE_FILES / tool, dest / "usr/local/bin" / tool)
    # PyYAML: trtllm-serve reads --extra_llm_api_options with it (a TensorRT-LLM requirement), and serve-pytorch
    # passes one (guided_decoding_backend: xgrammar)
    copy_dependency_closure(["smg-grpc-proto", "PyYAML"], site)
    backend = dest / "opt/tritonserver/backends/tensorrtllm"
    backend.mkdir(parents=True)
    shutil.copy(IMAGE_FILES / "tensorrtllm_backend.py", backend / "model.py")
    # what the stand-in backend serves with: the testkit's reference generator (and the product it imports), part of
    # the image
    for source in (REPO / "python" / "trtllm_nix", REPO / "testkit" / "trtllm_nix_testkit"):
        target = dest / "opt/standin/python" / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    facts = "/opt/standin/upstream_facts.json"
    (dest / facts[1:]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "python" / "trtllm_nix" / "upstream_facts.json", dest / facts[1:])
    config_file = dest / ".image-config.json"
    config = json.loads(config_file.read_text())
    config["config"]["Env"].append(f"TRTLLM_STANDIN_FACTS={facts}")
    config_file.write_text(json.dumps(config))
