"""``trtllm-nix doctor``: the seed's troubleshooting list, checked automatically, one line per check with its fix."""

from __future__ import annotations

import argparse
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from trtllm_nix.engine.check import Finding, check_engine
from trtllm_nix.engine.engine_config import EngineInfo, read_engine
from trtllm_nix.engine.preflight import MEMORY_HEADROOM, gpu_problems
from trtllm_nix.engine.sizes import Architecture, expected_rank_bytes, gigabytes
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import GpuInventory, read_inventory


def register(commands: Any) -> None:
    parser = commands.add_parser("doctor", help="check an engine, a model repository and a running Triton")
    parser.add_argument("--engine", type=Path)
    parser.add_argument("--repo", type=Path)
    parser.add_argument("--triton", help="Triton HTTP URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU checks (a machine without GPUs)")
    parser.add_argument("--smoke", metavar="URL", help="ask a running OpenAI endpoint a fixed question, judge it")
    parser.add_argument(
        "--bwrap",
        nargs="?",
        const="",
        metavar="PATH",
        help="check that bubblewrap (default: the one on PATH) can enter the runtime here: user namespaces, "
        "Ubuntu's AppArmor restriction",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from trtllm_nix.smoke import smoke

    findings = [smoke(args.smoke)] if args.smoke else []
    if args.bwrap is not None:
        from trtllm_nix.runtime.namespaces import namespace_findings

        findings += namespace_findings(args.bwrap or shutil.which("bwrap") or "bwrap")
    if not findings or args.engine or args.repo or args.triton:
        findings += diagnose(args.engine, args.repo, args.triton, None if args.no_gpu else read_inventory())
    for finding in findings:
        print(finding.line())
    failed = sum(not f.ok for f in findings)
    print(f"{len(findings) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def diagnose(
    engine: Path | None, repo: Path | None, triton: str | None, inventory: GpuInventory | None
) -> list[Finding]:
    findings: list[Finding] = []
    engine_config: EngineInfo | None = None
    if engine is not None:
        findings += check_engine(engine)
        try:
            engine_config = read_engine(engine, require_ranks=False)
        except UserError:
            engine_config = None  # check_engine has said why
    manifest: dict[str, Any] | None = None
    if repo is not None:
        repo_findings, manifest = _repo(repo)
        findings += repo_findings
    if inventory is not None and (engine_config or manifest):
        findings += _gpu_fit(inventory, engine_config, manifest)
    if triton is not None:
        findings += _triton(triton.rstrip("/"))
    if not findings:
        raise UserError("nothing to check: pass --engine, --repo and/or --triton")
    return findings


def _repo(repo: Path) -> tuple[list[Finding], dict[str, Any] | None]:
    from trtllm_nix.repo.generate import parse_config, read_manifest

    try:
        manifest = read_manifest(repo)
    except UserError as error:
        return [Finding("repository manifest", False, str(error), "generate it with trtllm-nix repo generate")], None
    out = [Finding("repository manifest", True, f"world size {manifest['world_size']}, backend {manifest['backend']}")]
    for model in ("tensorrt_llm", "preprocessing", "postprocessing", "ensemble"):
        path = repo / model / "config.pbtxt"
        try:
            config = parse_config(path.read_text("utf-8"))
        except Exception as error:  # OSError, or text_format's own ParseError
            out.append(Finding(f"{model} config", False, f"{path}: {error}", "regenerate the repository"))
            continue
        if model == "tensorrt_llm":
            decoupled = config.model_transaction_policy.decoupled
            out.append(
                Finding(
                    "decoupled mode",
                    decoupled,
                    f"tensorrt_llm decoupled={decoupled}",
                    "seed symptom 'ModelInfer RPC doesn't support models with decoupled transaction "
                    "policy' comes from calling it unary; streaming needs decoupled: regenerate",
                )
            )
            batch, engine_batch = config.max_batch_size, manifest["engine"]["max_batch_size"]
            out.append(
                Finding(
                    "max_batch_size",
                    batch <= engine_batch,
                    f"Triton {batch}, engine {engine_batch}",
                    "Triton's max_batch_size must not exceed the engine's; regenerate with the default",
                )
            )
            engine_path = Path(config.parameters["gpt_model_path"].string_value)
            if manifest["backend"] == "tensorrtllm":
                out.append(
                    Finding(
                        "engine path",
                        (engine_path / "config.json").is_file(),
                        f"gpt_model_path {engine_path}",
                        "seed symptom 'Both encoder and decoder model paths are empty': point "
                        "--engine-path at the engine folder as the server sees it",
                    )
                )
    tokenizer = Path(manifest["tokenizer"]["path"])
    out.append(
        Finding(
            "tokenizer files",
            (tokenizer / "tokenizer.json").is_file(),
            f"{tokenizer}",
            "regenerate with --tokenizer pointing at a folder with tokenizer.json",
        )
    )
    return out, manifest


def _gpu_fit(inventory: GpuInventory, engine: EngineInfo | None, manifest: dict[str, Any] | None) -> list[Finding]:
    world = int(manifest["world_size"]) if manifest else 1
    quant = None
    rank_bytes = 0.0
    if engine is not None:
        quant, world = engine.quant_algo, engine.world_size
        try:
            arch = Architecture.from_hf_config(engine.pretrained)
            rank_bytes = expected_rank_bytes(arch, quant, engine.tp_size, engine.pp_size)
        except UserError:
            rank_bytes = 0.0  # the size check of check_engine names what is missing
    elif manifest is not None:
        quant = manifest["engine"].get("quant_algo")
    gpus = inventory.gpus
    out = [
        Finding(
            "GPU count",
            len(gpus) >= world,
            f"{len(gpus)} GPU(s) for world size {world}",
            "seed symptom 'MPI size mismatch': serve on as many GPUs as the engine's TP x PP",
        )
    ]
    for gpu in gpus[:world]:
        problems = dict(gpu_problems(gpu, quant, rank_bytes))
        if quant in ("NVFP4", "FP8"):
            out.append(
                Finding(
                    f"GPU {gpu.index} architecture",
                    "architecture" not in problems,
                    f"{gpu.name} SM{gpu.sm}",
                    problems.get("architecture", ""),
                )
            )
        if rank_bytes:
            out.append(
                Finding(
                    f"GPU {gpu.index} memory",
                    "memory" not in problems,
                    f"{gigabytes(gpu.memory_free)} free for a {gigabytes(rank_bytes)} rank "
                    f"(x{MEMORY_HEADROOM} headroom)",
                    problems.get("memory", ""),
                )
            )
    return out


def _triton(url: str) -> list[Finding]:
    def get(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url + path, timeout=3) as response:  # noqa: S310 - the user's own server
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), b""
        except OSError:
            return 0, b""

    live, _ = get("/v2/health/live")
    if live != 200:
        return [
            Finding(
                "Triton live",
                False,
                f"no answer from {url}/v2/health/live",
                "start it with trtllm-nix serve, or pass the right --triton URL",
            )
        ]
    out = [Finding("Triton live", True, url)]
    ready, _ = get("/v2/health/ready")
    out.append(
        Finding(
            "Triton ready",
            ready == 200,
            f"/v2/health/ready -> {ready}",
            "a model failed to load: read the server log (trtllm-nix serve prints where)",
        )
    )
    status, body = get("/v2/models/tensorrt_llm/config")
    if status == 200:
        decoupled = json.loads(body).get("model_transaction_policy", {}).get("decoupled", False)
        out.append(
            Finding(
                "Triton decoupled tensorrt_llm",
                bool(decoupled),
                f"decoupled={decoupled}",
                "streaming needs the decoupled policy: regenerate the repository",
            )
        )
    for model in ("tensorrt_llm", "ensemble"):
        code, _ = get(f"/v2/models/{model}/ready")
        out.append(
            Finding(f"model {model}", code == 200, f"ready -> {code}", "check the server log for its load error")
        )
    return out
