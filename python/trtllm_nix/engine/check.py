"""``trtllm-nix engine check``: is this engine folder what it claims, and what it must be to serve?

Each finding names the symptom the seed project hit when the check failed, and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtllm_nix.engine.engine_config import TOKENIZER_DIR, EngineInfo, NotAnEngine, engine_tokenizer, read_engine
from trtllm_nix.engine.sizes import TOLERANCE, Architecture, expected_rank_bytes, gigabytes, within_tolerance
from trtllm_nix.errors import UserError

BUILD_INFO = "build-info.json"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        return f"{status} {self.check}: {self.detail}" + (f" -> {self.fix}" if not self.ok and self.fix else "")


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def check_engine(
    folder: Path, expected_quant: str | None = None, expected_tp: int | None = None, expected_pp: int | None = None
) -> list[Finding]:
    """Every check; expectations default to what build-info.json recorded from the checkpoint."""
    findings: list[Finding] = []
    try:
        engine = read_engine(folder, require_ranks=False)
    except NotAnEngine as error:
        findings.append(
            Finding(
                "engine config",
                False,
                str(error),
                "seed symptom \"key 'builder_config' not found\": never copy the HF config.json into "
                "the engine folder; rebuild with trtllm-nix engine build",
            )
        )
        return findings
    except UserError as error:
        findings.append(Finding("engine config", False, str(error), "rebuild the engine"))
        return findings
    findings.append(Finding("engine config", True, f"TensorRT-LLM {engine.trtllm_version} engine config"))
    info = _load(folder / BUILD_INFO) or {}
    quant = engine.quant_algo
    recorded = info.get("quant", {})
    want_quant = expected_quant if expected_quant is not None else recorded.get("quant_algo", quant)
    findings.append(
        Finding(
            "quantization",
            quant == want_quant,
            f"engine quant_algo {quant}, checkpoint {want_quant}",
            "seed symptom: garbage output ('unounouno') and 16 GB per rank instead of 6; the build ignored the "
            "checkpoint's quantization: pass the explicit QuantConfig (trtllm-nix engine build does)",
        )
    )
    tp, pp = engine.tp_size, engine.pp_size
    want_tp = expected_tp or int(info.get("tp_size", tp))
    want_pp = expected_pp or int(info.get("pp_size", pp))
    findings.append(
        Finding(
            "parallelism",
            (tp, pp) == (want_tp, want_pp),
            f"engine TP {tp} x PP {pp}, expected TP {want_tp} x PP {want_pp}",
            "seed symptom 'MPI size mismatch' / mpiSize == tp * pp: rebuild for the GPUs you serve on",
        )
    )
    ranks = [folder / f"rank{r}.engine" for r in range(tp * pp)]
    missing = [p.name for p in ranks if not p.is_file()]
    findings.append(
        Finding(
            "rank files",
            not missing,
            f"{tp * pp - len(missing)} of {tp * pp} present" + (f", missing {missing}" if missing else ""),
            "seed symptom: only rank 0 was converted; convert and build every rank",
        )
    )
    if not missing:
        findings.append(_size_finding(engine, ranks))
    tokenizer = engine_tokenizer(folder)
    findings.append(
        Finding(
            "tokenizer",
            tokenizer is not None,
            f"{tokenizer} has a tokenizer"
            if tokenizer is not None
            else f"neither {folder / TOKENIZER_DIR} nor {folder} has tokenizer.json or tokenizer.model",
            "copy the checkpoint's tokenizer files into the engine's tokenizer/ folder or beside its config.json "
            "(never the whole 20 GB checkpoint, as the peer did)",
        )
    )
    return findings


def _size_finding(engine: EngineInfo, ranks: list[Path]) -> Finding:
    quant, tp, pp = engine.quant_algo, engine.tp_size, engine.pp_size
    try:
        arch = Architecture.from_hf_config(engine.pretrained)
        expected = expected_rank_bytes(arch, quant, tp, pp)
    except UserError as error:
        return Finding("engine size", False, str(error), "the engine config lacks architecture fields")
    sizes = [p.stat().st_size for p in ranks]
    bad = [(p.name, s) for p, s in zip(ranks, sizes, strict=True) if not within_tolerance(s, expected)]
    bf16 = expected_rank_bytes(arch, None, tp, pp)
    hint = " (BF16-sized: quantization was not applied)" if any(within_tolerance(s, bf16) for _, s in bad) else ""
    detail = (
        f"{len(ranks)} rank(s) of {', '.join(sorted({gigabytes(s) for s in sizes}))}, expected "
        f"{gigabytes(expected)} +/- {TOLERANCE:.0%} for {quant or 'BF16'} at TP {tp}{hint}"
    )
    return Finding(
        "engine size", not bad, detail, "rebuild: a wrong size means the wrong quantization or a truncated engine"
    )
