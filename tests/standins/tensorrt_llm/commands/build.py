"""``trtllm-build``: the recorded flags and choices (upstream_facts.json trtllm_build); writes an engine folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tensorrt_llm._facts import FACTS, record

BYTES_PER_WEIGHT = {"NVFP4": 0.5625, "FP8": 1.0}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trtllm-build")
    for flag, spec in FACTS["trtllm_build"]["flags"].items():
        names = [flag, *spec.get("aliases", [])]
        if "choices" in spec:
            kind = str.lower if spec.get("case_insensitive") else str
            p.add_argument(*names, choices=spec["choices"], type=kind, default=spec.get("default"))
        else:
            p.add_argument(*names, type=int if spec.get("type") == "int" else str)
    return p


def _rank_bytes(arch: dict[str, Any], quant: str | None, tp: int) -> int:
    h, heads, kv, d = arch["hidden_size"], arch["num_attention_heads"], arch["num_key_value_heads"], arch["head_size"]
    per_layer = 2 * h * heads * d + 2 * h * kv * d + 3 * h * arch["intermediate_size"]
    layers = per_layer * arch["num_hidden_layers"] * BYTES_PER_WEIGHT.get(quant or "", 2.0) / tp
    embedding = arch["vocab_size"] * h * 2
    return int(layers + embedding + embedding / tp)


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    record("trtllm-build", argv=list(sys.argv[1:] if argv is None else argv))
    if not a.checkpoint_dir or not a.output_dir:
        print("trtllm-build: --checkpoint_dir and --output_dir are needed", file=sys.stderr)
        return 2
    checkpoint = json.loads(Path(a.checkpoint_dir, "config.json").read_text("utf-8"))
    mapping = checkpoint["mapping"]
    missing = [r for r in range(mapping["world_size"]) if not Path(a.checkpoint_dir, f"rank{r}.safetensors").is_file()]
    if missing:
        print(f"trtllm-build: checkpoint lacks ranks {missing}", file=sys.stderr)
        return 2
    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    quant = (checkpoint.get("quantization") or {}).get("quant_algo")
    for rank in range(mapping["world_size"]):
        with (out / f"rank{rank}.engine").open("wb") as handle:
            handle.truncate(_rank_bytes(checkpoint, quant, mapping["tp_size"]))  # sparse
    build = {
        "max_batch_size": a.max_batch_size,
        "max_seq_len": a.max_seq_len,
        "max_input_len": a.max_input_len,
        "max_num_tokens": a.max_num_tokens,
        "kv_cache_type": (a.kv_cache_type or "paged").upper(),
        "plugin_config": {
            "gemm_plugin": a.gemm_plugin,
            "use_paged_context_fmha": a.use_paged_context_fmha == "enable",
            "use_fp8_context_fmha": a.use_fp8_context_fmha == "enable",
        },
    }
    config = {"version": FACTS["triton"]["containers"]["25.12"]["tensorrt_llm"], "pretrained_config": checkpoint}
    (out / "config.json").write_text(json.dumps({**config, "build_config": build}, indent=2), "utf-8")
    print(f"Total time of building all engines: stand-in ({mapping['world_size']} rank(s))", flush=True)
    return 0
