"""``trtllm-bench ... build``: the recorded global and build flags, the build-mode rule, the nested-only reading
of ``hf_quant_config.json`` and the forced KV-cache algorithm (upstream_facts.json trtllm_bench); writes the engine
where the pinned release does (``{workspace}/{model}/tp_{tp}_pp_{pp}``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tensorrt_llm._facts import FACTS, record
from tensorrt_llm.commands.build import _rank_bytes

BENCH = FACTS["trtllm_bench"]
ARCH_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size")


def _add(p: argparse.ArgumentParser, flags: dict[str, dict[str, object]]) -> None:
    for flag, spec in flags.items():
        names = [flag, *spec.get("aliases", [])]  # type: ignore[misc]
        kind = int if spec.get("type") == "int" else str
        p.add_argument(*names, type=kind, choices=spec.get("choices"), required=bool(spec.get("required")))  # type: ignore[arg-type]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trtllm-bench")
    _add(p, BENCH["global_flags"])
    actions = p.add_subparsers(dest="action", required=True)
    _add(actions.add_parser("build"), BENCH["build_flags"])
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    record("trtllm-bench", argv=list(sys.argv[1:] if argv is None else argv))
    modes = [m for m in (a.dataset, a.max_batch_size, a.target_input_len) if m is not None]
    if len(modes) != 1 or (a.dataset is None and a.max_seq_len is None):
        print(f"trtllm-bench build: {BENCH['build_mode']}", file=sys.stderr)
        return 2
    if (a.max_batch_size is None) != (a.max_num_tokens is None):
        print("trtllm-bench build: --max_batch_size and --max_num_tokens go together", file=sys.stderr)
        return 2
    model_path = Path(a.model_path or a.model)
    hf = json.loads((model_path / "config.json").read_text("utf-8"))
    quant_file = model_path / "hf_quant_config.json"
    if quant_file.is_file():
        quant = json.loads(quant_file.read_text("utf-8"))["quantization"]  # KeyError on a flat file, as upstream
    elif "quantization_config" in hf:
        raise NotImplementedError("Unsupported quantization_config")
    else:
        quant = {"quant_algo": None}
    algo = a.quantization or quant.get("quant_algo")
    kv = BENCH["kv_cache_quant_algo_forced"].get(algo)
    tp, pp = a.tp_size or 1, a.pp_size or 1
    pretrained = {
        "architecture": "QWenForCausalLM",
        "dtype": hf.get("torch_dtype", "bfloat16"),
        "vocab_size": hf["vocab_size"],
        "head_size": hf.get("head_dim") or hf["hidden_size"] // hf["num_attention_heads"],
        **{key: hf[key] for key in ARCH_KEYS},
        "mapping": {"world_size": tp * pp, "tp_size": tp, "pp_size": pp},
        "quantization": {"quant_algo": algo, "kv_cache_quant_algo": kv},
    }
    workspace = Path(a.workspace or "/tmp")
    out = Path(BENCH["engine_dir"].format(workspace=workspace, model=a.model, tp_size=tp, pp_size=pp))
    out.mkdir(parents=True, exist_ok=True)
    for rank in range(tp * pp):
        with (out / f"rank{rank}.engine").open("wb") as handle:
            handle.truncate(_rank_bytes(pretrained, algo, tp))
    build = {"max_batch_size": a.max_batch_size, "max_seq_len": a.max_seq_len, "max_num_tokens": a.max_num_tokens}
    build["plugin_config"] = {"use_paged_context_fmha": True}  # type: ignore[assignment]
    version = FACTS["triton"]["containers"]["25.12"]["tensorrt_llm"]
    config = {"version": version, "pretrained_config": pretrained, "build_config": build}
    (out / "config.json").write_text(json.dumps(config, indent=2), "utf-8")
    print(f"ENGINE SAVED: {out}", flush=True)
    return 0
