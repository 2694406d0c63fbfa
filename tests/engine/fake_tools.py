"""Stand-ins for ``trtllm-build`` and ``trtllm-bench build``: they parse the real flags, check them, and write an
engine folder (config.json + sparse rank files of a realistic size). ``bench --mode hang_after_save`` then hangs
like the real tool's MPI teardown; ``--mode save_nothing`` exits without an engine."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

BYTES_PER_WEIGHT = {"NVFP4": 0.5625, "FP8": 1.0}


def arch_fields(config: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "vocab_size",
        "tie_word_embeddings",
    )
    fields = {key: config[key] for key in keys if key in config}
    fields["head_size"] = config.get("head_dim") or config.get("head_size")
    return fields


def rank_bytes(arch: dict[str, Any], quant: str | None, tp: int) -> int:
    h, heads, kv, d = arch["hidden_size"], arch["num_attention_heads"], arch["num_key_value_heads"], arch["head_size"]
    per_layer = 2 * h * heads * d + 2 * h * kv * d + 3 * h * arch["intermediate_size"]
    layers = per_layer * arch["num_hidden_layers"] * BYTES_PER_WEIGHT.get(quant or "", 2.0) / tp
    embedding = arch["vocab_size"] * h * 2
    lm_head = 0 if arch.get("tie_word_embeddings") else embedding / tp  # tied: the embedding serves as lm_head
    return int(layers + embedding + lm_head)


def write_engine(out: Path, pretrained: dict[str, Any], build: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    mapping = pretrained["mapping"]
    size = rank_bytes(pretrained, (pretrained.get("quantization") or {}).get("quant_algo"), mapping["tp_size"])
    for rank in range(mapping["world_size"]):
        with (out / f"rank{rank}.engine").open("wb") as handle:
            handle.truncate(size)  # sparse: the apparent size of a real engine, no disk used
    (out / "config.json").write_text(
        json.dumps({"version": "1.1.0", "pretrained_config": pretrained, "build_config": build})
    )


def build(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    for flag in (
        "checkpoint_dir",
        "output_dir",
        "workers",
        "max_batch_size",
        "max_seq_len",
        "max_input_len",
        "max_num_tokens",
        "kv_cache_type",
        "use_paged_context_fmha",
        "remove_input_padding",
        "gpt_attention_plugin",
        "gemm_plugin",
        "use_fp8_context_fmha",
    ):
        p.add_argument(f"--{flag}", required=flag in ("checkpoint_dir", "output_dir"))
    p.add_argument("--gather_context_logits", action="store_true")
    p.add_argument("--gather_generation_logits", action="store_true")
    a = p.parse_args(argv)
    checkpoint = json.loads(Path(a.checkpoint_dir, "config.json").read_text())
    world = checkpoint["mapping"]["world_size"]
    missing = [r for r in range(world) if not Path(a.checkpoint_dir, f"rank{r}.safetensors").is_file()]
    if missing:
        print(f"checkpoint lacks ranks {missing}", file=sys.stderr)
        return 2
    quant = (checkpoint.get("quantization") or {}).get("quant_algo")
    assert a.kv_cache_type == "paged", a
    assert a.use_paged_context_fmha == "enable", a
    assert quant != "NVFP4" or a.gemm_plugin == "nvfp4", "NVFP4 needs the nvfp4 GEMM plugin"
    assert int(a.max_input_len) < int(a.max_seq_len), a
    write_engine(
        Path(a.output_dir),
        checkpoint,
        {
            "max_batch_size": int(a.max_batch_size),
            "max_seq_len": int(a.max_seq_len),
            "max_input_len": int(a.max_input_len),
            "max_num_tokens": int(a.max_num_tokens),
            "plugin_config": {"gemm_plugin": a.gemm_plugin, "use_paged_context_fmha": True},
            "gather_context_logits": a.gather_context_logits,
            "gather_generation_logits": a.gather_generation_logits,
        },
    )
    return 0


def bench(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="ok")
    p.add_argument("--model", required=True)
    p.add_argument("--model_path", required=True)
    p.add_argument("--workspace", required=True)
    p.add_argument("action", choices=["build"])
    for flag in ("tp_size", "pp_size", "max_seq_len", "max_batch_size", "max_num_tokens", "quantization"):
        p.add_argument(f"--{flag}")
    a = p.parse_args(argv)
    if a.mode == "save_nothing":
        print("error: out of memory during engine build", file=sys.stderr)
        return 1
    config = json.loads(Path(a.model_path, "config.json").read_text())
    tp, pp = int(a.tp_size), int(a.pp_size)
    pretrained = {
        "architecture": "QWenForCausalLM",
        **arch_fields(config),
        "mapping": {"world_size": tp * pp, "tp_size": tp, "pp_size": pp},
        "quantization": {"quant_algo": a.quantization, "kv_cache_quant_algo": "FP8"},
    }
    write_engine(
        Path(a.workspace, a.model, f"tp_{tp}_pp_{pp}"),
        pretrained,
        {
            "max_batch_size": int(a.max_batch_size),
            "max_seq_len": int(a.max_seq_len),
            "max_num_tokens": int(a.max_num_tokens),
        },
    )
    print("ENGINE SAVED", flush=True)
    if a.mode == "hang_after_save":  # the MPI pool teardown hang: ignores SIGTERM, sleeps forever
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    return 0


if __name__ == "__main__":
    tool, *rest = sys.argv[1:]
    sys.exit(build(rest) if tool == "build" else bench(rest))
