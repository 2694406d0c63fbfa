"""``trtllm-nix engine build``: checkpoint -> verified engine folder, written atomically.

Order: resolve the checkpoint (local or pinned download), read its quantization (both ModelOpt shapes) and check it
against the tensors, preflight the GPUs, build into a temporary folder beside ``--out`` (strategy ``checkpoint``:
per-rank conversion with an explicit QuantConfig in parallel processes, then ``trtllm-build``; strategy ``bench``:
``trtllm-bench build`` under the supervisor), copy only the tokenizer files, write build-info.json, run every
``engine check``, and only then rename the folder into place.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trtllm_nix import __version__
from trtllm_nix.catalog import runtime_gpu_archs
from trtllm_nix.engine.check import BUILD_INFO, check_engine
from trtllm_nix.engine.download import BUILD_PATTERNS, copy_tokenizer, resolve_model
from trtllm_nix.engine.engine_config import TOKENIZER_DIR, complete_files
from trtllm_nix.engine.preflight import BuildPlan, check_preflight
from trtllm_nix.engine.quant import QuantSpec, read_quant_spec
from trtllm_nix.engine.seam import MODEL_CLASSES, BenchJob, BuildLimits, ConvertJob, TensorrtLlmSeam, load_seam
from trtllm_nix.engine.sizes import Architecture, expected_rank_bytes
from trtllm_nix.engine.supervise import BuildFailed, run_supervised
from trtllm_nix.engine.weights import check_consistent, summarize
from trtllm_nix.errors import UserError
from trtllm_nix.gpus import GpuInventory, read_inventory
from trtllm_nix.staging import replace_folder

if TYPE_CHECKING:
    from trtllm_nix.runtime.seam import RuntimeSpec

Strategy = Literal["checkpoint", "bench"]


@dataclass(frozen=True)
class BuildRequest:
    model: str
    out: Path
    tp: int
    limits: BuildLimits
    pp: int = 1
    revision: str | None = None
    strategy: Strategy = "checkpoint"
    skip_preflight: bool = False
    force: bool = False
    timeout: float = 4 * 3600.0
    # Where the staging folder and the build log go (default: beside --out, or $TMPDIR when --out is in the Nix
    # store, which only the final engine may enter). A failed build keeps both there.
    work_dir: Path | None = None
    # --runtime ROOT: conversion and trtllm-build run inside the image root (trtllm_nix.runtime.seam).
    runtime: RuntimeSpec | None = None
    quant: str | None = None  # the quant_algo asked for (NVFP4, FP8, BF16); None: whatever the checkpoint is
    # The architecture the engine is for (sm100, ...): preflight refuses any other GPU. None: the GPU's own.
    gpu_arch: str | None = None
    # Where the checkpoint came from (hf_id, revision, weights_hash), recorded instead of a store path
    provenance: dict[str, str] = field(default_factory=dict)


def build_engine(
    request: BuildRequest, seam: TensorrtLlmSeam | None = None, inventory: GpuInventory | None = None
) -> Path:
    _validate(request)
    timings: dict[str, float] = {}
    started = time.monotonic()
    model_dir = resolve_model(request.model, request.revision, BUILD_PATTERNS)
    timings["download_s"] = time.monotonic() - started
    hf_config = _read_hf_config(model_dir)
    architecture = (hf_config.get("architectures") or ["?"])[0]
    if architecture not in MODEL_CLASSES:
        raise UserError(f"architecture {architecture} is not supported; supported: {', '.join(sorted(MODEL_CLASSES))}")
    quant = read_quant_spec(model_dir)
    check_consistent(quant.algo, summarize(model_dir), quant.source)
    if request.strategy == "bench":
        refuse_for_bench(quant)
    _check_asked_quant(request.quant, quant, model_dir)
    check_tokenizer_files(model_dir, hf_config)
    plan = BuildPlan(
        request.model,
        quant.algo,
        request.tp,
        request.pp,
        expected_rank_bytes(Architecture.from_hf_config(hf_config), quant.algo, request.tp, request.pp),
        request.gpu_arch,
        runtime_gpu_archs() if request.runtime is not None else (),
    )
    seam = seam or load_seam()
    request.out.parent.mkdir(parents=True, exist_ok=True)
    work = work_dir(request)
    if request.runtime is not None:
        from trtllm_nix.runtime.seam import runtime_seam

        seam = entered = runtime_seam(request.runtime, seam, (model_dir.resolve(), work))
        if inventory is None and not request.skip_preflight:
            inventory = entered.inventory()  # the image's NVML, with the driver the entry binds (see seam_worker)
    if inventory is None:
        inventory = GpuInventory(gpus=()) if request.skip_preflight else read_inventory()
    if request.skip_preflight:
        print("warning: --skip-preflight: the engine will only run on a GPU of the architecture it is built on")
    else:
        for line in check_preflight(inventory, plan):
            print(f"preflight: {line}")
    staging = Path(tempfile.mkdtemp(prefix=f".{request.out.name}.building-", dir=work))
    done = False
    try:
        engine = staging / "engine"
        engine.mkdir()
        phase = time.monotonic()
        if request.strategy == "checkpoint":
            timings.update(_checkpoint_strategy(request, seam, model_dir, architecture, hf_config, quant, staging))
        else:
            timings.update(_bench_strategy(request, seam, model_dir, quant, staging))
        timings["build_s"] = time.monotonic() - phase
        copy_tokenizer(model_dir, engine / TOKENIZER_DIR)
        timings["total_s"] = time.monotonic() - started
        _write_build_info(engine, request, quant, seam, inventory, timings, architecture)
        failed = [f for f in check_engine(engine) if not f.ok]
        if failed:
            raise BuildFailed("the built engine failed its checks: " + "; ".join(f.line() for f in failed))
        _place(engine, request.out)
        done = True
    except BuildFailed as error:
        raise BuildFailed(f"{error}; the staging folder is kept at {_kept(request, work)}") from error
    finally:
        if done:
            shutil.rmtree(staging, ignore_errors=True)
        else:
            shutil.rmtree(_kept(request, work), ignore_errors=True)
            staging.rename(_kept(request, work))
    return request.out


def work_dir(request: BuildRequest) -> Path:
    """Staging and log folder: outside the Nix store, readable after a failed build."""
    if request.work_dir is not None:
        request.work_dir.mkdir(parents=True, exist_ok=True)
        return request.work_dir.resolve()
    parent = request.out.parent.resolve()
    if parent.is_relative_to("/nix/store") or not os.access(parent, os.W_OK):
        return Path(tempfile.gettempdir()).resolve()
    return parent


def build_log(request: BuildRequest) -> Path:
    return work_dir(request) / f"{request.out.name}.build.log"


def _kept(request: BuildRequest, work: Path) -> Path:
    return work / f"{request.out.name}.failed-build"


def _place(engine: Path, out: Path) -> None:
    """Rename into place; copy where the two are on different mounts: --out in the Nix store, staged in the build
    sandbox's /build, is a bind mount of the same disk and still refuses the rename (EXDEV)."""
    try:
        replace_folder(engine, out)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(engine, out, symlinks=True)


def _validate(request: BuildRequest) -> None:
    if request.tp < 1 or request.pp < 1:
        raise UserError(f"--tp and --pp must be at least 1, got {request.tp} and {request.pp}")
    limits = request.limits
    if min(limits.max_batch_size, limits.max_seq_len, limits.max_num_tokens) < 1:
        raise UserError("--max-batch-size, --max-seq-len and --max-num-tokens must be at least 1")
    if request.out.exists() and any(request.out.iterdir()) and not request.force:
        raise UserError(f"--out {request.out} is not empty; pass --force to replace it")


def refuse_for_bench(quant: QuantSpec) -> None:
    """What ``trtllm-bench build`` of the pinned TensorRT-LLM (1.1.0) cannot do, refused before anything runs.

    It reads ``hf_quant_config.json`` as ``["quantization"]`` (the nested shape) only: a flat ModelOpt 1.0 file
    raises KeyError, and a ``config.json`` ``quantization_config`` (NVIDIA's newer releases) raises
    NotImplementedError. Those shapes need ``--strategy checkpoint`` (an explicit QuantConfig per rank).
    Facts: upstream_facts.json ``trtllm_bench``.
    """
    if quant.algo is not None and quant.source != "hf_quant_config.json":
        raise UserError(
            f"--strategy bench: trtllm-bench 1.1 reads only the nested hf_quant_config.json "
            f'({{"quantization": {{...}}}}); this checkpoint\'s quantization is in {quant.source}. Use '
            "--strategy checkpoint (the default), which passes an explicit QuantConfig"
        )
    facts = json.loads(resources.files("trtllm_nix").joinpath("upstream_facts.json").read_text("utf-8"))
    choices = facts["trtllm_bench"]["build_flags"]["--quantization"]["choices"]
    if quant.algo is not None and quant.algo not in choices:
        raise UserError(
            f"--strategy bench: trtllm-bench 1.1 --quantization accepts {', '.join(choices)}, not {quant.algo}; "
            "use --strategy checkpoint"
        )


def _read_hf_config(model_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads((model_dir / "config.json").read_text("utf-8"))
    except FileNotFoundError as error:
        raise UserError(f"{model_dir} has no config.json: not a Hugging Face checkpoint") from error
    if "build_config" in config:
        raise UserError(f"{model_dir} is already a TensorRT-LLM engine; --model takes a Hugging Face checkpoint")
    return dict(config)


def checkpoint_dtype(hf_config: dict[str, Any]) -> str:
    """The weights' 16-bit dtype: ``torch_dtype`` (transformers 4) or ``dtype`` (transformers 5), else bfloat16."""
    return str(hf_config.get("torch_dtype") or hf_config.get("dtype") or "bfloat16")


def _check_asked_quant(asked: str | None, quant: QuantSpec, model_dir: Path) -> None:
    """The builder never re-quantizes: the checkpoint must already be what ``--quant`` (or the variant) asks for."""
    if asked is None:
        return
    want = None if asked.upper() in ("BF16", "FP16", "NONE") else asked.upper()
    if want == quant.algo:
        return
    have = f"an {quant.algo} checkpoint ({quant.source})" if quant.algo else "not quantized (16-bit weights)"
    fix = (
        "quantize it with ModelOpt first" if quant.algo is None else f"pass --quant {quant.algo} or its {asked} export"
    )
    raise UserError(f"--quant {asked}: {model_dir} is {have}; the builder does not re-quantize: {fix}")


def check_tokenizer_files(model_dir: Path, hf_config: dict[str, Any]) -> None:
    """The checkpoint carries a tokenizer, and it is this model's: config.json's end token ids are its special
    tokens (another model's tokenizer.json gives the engine's end_id to an ordinary token: no answer ever ends)."""
    tokenizer = model_dir / "tokenizer.json"
    if not tokenizer.is_file():
        if (model_dir / "tokenizer.model").is_file():
            return
        raise UserError(f"{model_dir} has no tokenizer.json or tokenizer.model; the engine needs the model's own")
    try:
        added = json.loads(tokenizer.read_text("utf-8")).get("added_tokens") or []
        special = {int(t["id"]): str(t["content"]) for t in added if t.get("special")}
    except (json.JSONDecodeError, AttributeError, TypeError, KeyError, ValueError) as error:
        raise UserError(f"{tokenizer} is not a tokenizers JSON file ({error})") from error
    eos = hf_config.get("eos_token_id")
    wrong = [i for i in (eos if isinstance(eos, list) else [eos]) if isinstance(i, int) and i not in special]
    if wrong:
        raise UserError(
            f"config.json's eos_token_id {wrong[0]} is not a special token of {tokenizer}: these are another "
            "model's tokenizer files; copy the checkpoint's own"
        )


def _checkpoint_strategy(
    request: BuildRequest,
    seam: TensorrtLlmSeam,
    model_dir: Path,
    architecture: str,
    hf_config: dict[str, Any],
    quant: QuantSpec,
    staging: Path,
) -> dict[str, float]:
    checkpoint = staging / "checkpoint"
    checkpoint.mkdir()
    world = request.tp * request.pp
    jobs = [
        ConvertJob(
            model_dir=str(model_dir),
            checkpoint_dir=str(checkpoint),
            model_class=MODEL_CLASSES[architecture],
            dtype=checkpoint_dtype(hf_config),
            quant_config=quant.as_quant_config(),
            rank=rank,
            tp_size=request.tp,
            pp_size=request.pp,
        )
        for rank in range(world)
    ]
    parallel = parallel_conversions(world, summarize(model_dir).total_bytes)
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        list(pool.map(_convert, [(seam, job) for job in jobs]))
    convert_s = time.monotonic() - started
    command = seam.build_command(
        checkpoint, staging / "engine", min(world, os.cpu_count() or 1), request.limits, quant.algo
    )
    log = build_log(request)
    result = run_supervised(command, log, lambda: staging / "engine", request.timeout, wait_for_exit=True)
    if result.returncode != 0:
        raise BuildFailed(f"trtllm-build exited with code {result.returncode} (log: {log})")
    return {"convert_s": convert_s}


def _convert(item: tuple[TensorrtLlmSeam, ConvertJob]) -> None:
    seam, job = item
    seam.convert_rank(job)


def parallel_conversions(world: int, checkpoint_bytes: int, memory: int | None = None) -> int:
    """Conversions hold a rank's share of the checkpoint in host memory (with a quarter on top for the
    converted copy): run as many at once as half the memory allows."""
    if memory is None:
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return 1
    per_rank = max(1.25 * checkpoint_bytes / world, 1.0)
    return max(1, min(world, int(memory / 2 / per_rank)))


def _bench_strategy(
    request: BuildRequest, seam: TensorrtLlmSeam, model_dir: Path, quant: QuantSpec, staging: Path
) -> dict[str, float]:
    workspace = staging / "workspace"
    name = Path(request.model).name if Path(request.model).is_dir() else request.model
    bench = seam.bench_build(BenchJob(name, model_dir, workspace, request.tp, request.pp, quant.algo, request.limits))
    log = build_log(request)
    result = run_supervised(bench.command, log, lambda: bench.engine_dir, request.timeout, env=bench.environment)
    if complete_files(bench.engine_dir) is None:
        raise BuildFailed(f"trtllm-bench exited with code {result.returncode} without writing an engine (log: {log})")
    for item in bench.engine_dir.iterdir():
        if item.name == "config.json" or (item.name.startswith("rank") and item.suffix == ".engine"):
            shutil.move(str(item), staging / "engine" / item.name)
    return {"ended_by_supervisor": 1.0 if result.returncode is None else 0.0}


def _write_build_info(
    engine: Path,
    request: BuildRequest,
    quant: QuantSpec,
    seam: TensorrtLlmSeam,
    gpus: GpuInventory,
    timings: dict[str, float],
    architecture: str,
) -> None:
    first = gpus.gpus[0] if gpus.gpus else None
    info = {
        "model": without_store_hash(request.model),
        "source": dict(sorted(request.provenance.items())),
        "gpu_arch": request.gpu_arch or (f"sm{first.sm}" if first else None),
        "revision": request.revision,
        "architecture": architecture,
        "quant": quant.as_manifest(),
        "tp_size": request.tp,
        "pp_size": request.pp,
        "limits": asdict(request.limits),
        "strategy": request.strategy,
        "tensorrt_llm_version": seam.version(),
        "trtllm_nix_version": __version__,
        "gpu": {"name": first.name, "sm": first.sm, "driver": gpus.driver} if first else None,
        "preflight_skipped": request.skip_preflight,
        "durations": {key: round(value, 3) for key, value in sorted(timings.items())},
    }
    (engine / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", "utf-8")


_STORE_PATH = re.compile(r"^/nix/store/[0-9a-z]{32}-")


def without_store_hash(model: str) -> str:
    """A checkpoint in the Nix store as its name only: a store path written into the engine is a reference that
    keeps the checkpoint (20 GB of weights) alive as long as the engine; the provenance says what it was."""
    return _STORE_PATH.sub("", model)
