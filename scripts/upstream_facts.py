#!/usr/bin/env python3
"""Write python/trtllm_nix/upstream_facts.json from a local copy of the pinned upstream files (run by hand).

Never run in CI: the upstream files are taken at development time into a git-ignored folder,
``.cache/upstream/<owner>+<repo>@<commit>/<path>``, with the search tools of the development machine
(``fetch`` brings triton-inference-server repositories whole; NVIDIA/TensorRT-LLM is too large, so its files are read
one by one at the stored commits, which bracket the pinned one). This script parses them and writes FACTS only
(names, types, flags, values), each group with the repository, path and commit it came from. No upstream code is
copied into the project.

    python3 scripts/upstream_facts.py [--upstream .cache/upstream] [--out python/trtllm_nix/upstream_facts.json]

Groups whose upstream files could not be brought to disk (the TensorRT-LLM Python API and CLIs) are transcribed
from reading the stored files and marked ``"method": "read"``; parsed groups say ``"method": "parsed"``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BACKEND_REPO = "triton-inference-server/tensorrtllm_backend"
TRTLLM_REPO = "NVIDIA/TensorRT-LLM"
# The pinned release: tensorrtllm_backend b9cc224 "TensorRT-LLM Backend v1.1.0 release (#830)" sets its
# tensorrt_llm submodule to this commit; the index holds no file of it, so files are read at bracketing commits.
PINNED_TRTLLM = "48b7b5d8b7ed1e6bff57aecc6ff7d1533288bed8"
OLDER = (
    BACKEND_REPO,
    "c2e65b88d85255be30cf50440a91662abeb497dd",
    "",
)  # r25.05 (TensorRT-LLM 0.19)
NEWER = (TRTLLM_REPO, "2a9abd9536aa62ad3e4b9314be9286b1b1be523b", "triton_backend/")
NEWER_CPP_COMMIT = "c8c6df08bd0ead54cd47f7973e1e425c28a174cd"
TEMPLATE = "all_models/inflight_batcher_llm/tensorrt_llm/config.pbtxt"
CPP = "inflight_batcher_llm/src/"


def folder(upstream: Path, repo: str, commit: str) -> Path:
    for candidate in upstream.glob(f"{repo.replace('/', '+')}@*"):
        if commit.startswith(candidate.name.split("@", 1)[1]):
            return candidate
    raise SystemExit(f"{upstream} has no copy of {repo}@{commit[:12]}: take it first (see the module docstring)")


def source(repo: str, commit: str, path: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"repo": repo, "commit": commit, "path": path, "role": role, **extra}


# ---- the Triton model template -----------------------------------------------------------------------------


def _entries(text: str, section: str) -> list[str]:
    start = re.search(rf"^{section} \[", text, re.M)
    if not start:
        raise SystemExit(f"template has no {section} section")
    depth, begin, entries = 0, 0, []
    for index in range(start.end(), len(text)):
        char = text[index]
        if char == "{":
            depth += 1
            if depth == 1:
                begin = index
        elif char == "}":
            depth -= 1
            if depth == 0:
                entries.append(text[begin : index + 1])
        elif char == "]" and depth == 0:
            break
    return entries


def _tensor(entry: str) -> dict[str, Any]:
    def field(name: str) -> str | None:
        found = re.search(rf"\b{name}\s*:\s*([^\n]+)", entry)
        return found.group(1).strip() if found else None

    name = re.search(r'name:\s*"(\w+)"', entry)
    dims = re.search(r"\bdims:\s*\[([^\]]*)\]", entry)
    if name is None or dims is None:
        raise SystemExit(f"template entry without name or dims: {entry}")
    reshape = re.search(r"reshape:\s*\{\s*shape:\s*\[([^\]]*)\]", entry)
    return {
        "name": name.group(1),
        "data_type": field("data_type"),
        "dims": [int(d) for d in dims.group(1).replace(",", " ").split()],
        "optional": field("optional") == "true",
        "allow_ragged_batch": field("allow_ragged_batch") == "true",
        "reshape": None if reshape is None else [int(d) for d in reshape.group(1).replace(",", " ").split()],
    }


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def parse_template(path: Path) -> dict[str, Any]:
    text = _strip_comments(path.read_text())
    params = re.findall(
        r'parameters:\s*\{\s*key:\s*"(\w+)"\s*value:\s*\{\s*string_value:\s*"([^"]*)"',
        text,
    )
    return {
        "inputs": [_tensor(e) for e in _entries(text, "input")],
        "outputs": [_tensor(e) for e in _entries(text, "output")],
        "parameters": dict(params),
    }


# ---- the C++ backend ---------------------------------------------------------------------------------------


def _try_regions(text: str) -> list[tuple[int, int]]:
    regions = []
    for match in re.finditer(r"\btry\s*\{", text):
        depth = 0
        for index in range(match.end() - 1, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    regions.append((match.start(), index))
                    break
    return regions


def parameters_read(text: str) -> dict[str, bool]:
    """Parameter name -> whether it is read inside a try block (so a missing key falls back to a default)."""
    regions = _try_regions(text)
    found: dict[str, bool] = {}
    for match in re.finditer(r'GetParameter<[^>]*(?:>[^>(]*)?>\("(\w+)"\)', text):
        guarded = any(start < match.start() < end for start, end in regions)
        found[match.group(1)] = found.get(match.group(1), False) or guarded
    return found


def parse_backend(src: Path) -> dict[str, Any]:
    reads: dict[str, bool] = {}
    for name in ("model_instance_state.cc", "model_state.cc"):
        for key, guarded in parameters_read((src / name).read_text()).items():
            reads[key] = reads.get(key, False) or guarded
    instance = (src / "model_instance_state.cc").read_text()
    utils_cc = (src / "utils.cc").read_text()
    utils_h = (src / "utils.h").read_text()
    model_types = sorted(set(re.findall(r'gpt_model_type == "(\w+)"', instance)))
    fields = dict(re.findall(r'static constexpr char const\* (\w+) = "(\w+)";', utils_h))
    guide_types = dict(re.findall(r'\{"(\w+)", executor::GuidedDecodingParams::GuideType::(\w+)\}', utils_cc))
    backends = sorted(set(re.findall(r'guidedDecodingBackendStr == "(\w+)"', instance)))
    info_keys = sorted(set(re.findall(r'tokenizerInfo\["(\w+)"\]', instance)))
    policies = sorted(set(re.findall(r'schedulerPolicyStr == "(\w+)"', instance)))
    modes = sorted(set(re.findall(r'decodingModeStr == "(\w+)"', instance)))
    return {
        "parameters_read": dict(sorted(reads.items())),
        "parameters_without_default": sorted(key for key, guarded in reads.items() if not guarded),
        "gpt_model_type_values": model_types,
        "batch_scheduler_policy_values": policies,
        "decoding_mode_values": modes,
        "input_field_names": dict(sorted(fields.items())),
        "guide_types": guide_types,
        "guided_decoding_backends": backends,
        "tokenizer_info_keys": info_keys,
    }


# ---- groups read by hand (NVIDIA/TensorRT-LLM Python files, not on disk) -----------------------------------

TRTLLM_BUILD = {
    "sources": [
        source(TRTLLM_REPO, "008b2b8d", "tensorrt_llm/commands/build.py", "older bracket"),
        source(TRTLLM_REPO, "65f1d153", "tensorrt_llm/commands/build.py", "newer bracket"),
        source(
            TRTLLM_REPO,
            "c20322ff",
            "tensorrt_llm/plugin/plugin.py",
            "newer bracket (cli_plugin_args)",
        ),
    ],
    "method": "read",
    "brackets_agree": True,
    "flags": {
        "--checkpoint_dir": {"type": "path"},
        "--output_dir": {"type": "path"},
        "--workers": {
            "type": "int",
            "note": "clamped to min(cuda device count, workers)",
        },
        "--max_batch_size": {"type": "int"},
        "--max_seq_len": {"type": "int", "aliases": ["--max_decoder_seq_len"]},
        "--max_input_len": {"type": "int"},
        "--max_num_tokens": {"type": "int"},
        "--max_beam_width": {"type": "int"},
        "--logits_dtype": {"choices": ["float16", "float32"]},
        "--kv_cache_type": {
            "choices": ["continuous", "paged", "disabled"],
            "case_insensitive": True,
        },
        "--use_paged_context_fmha": {
            "choices": ["enable", "disable"],
            "default": "enable",
        },
        "--use_fp8_context_fmha": {
            "choices": ["enable", "disable"],
            "default": "enable",
        },
        "--remove_input_padding": {
            "choices": ["enable", "disable"],
            "default": "enable",
        },
        "--context_fmha": {"choices": ["enable", "disable"], "default": "enable"},
        "--gpt_attention_plugin": {"choices": ["auto", "float16", "float32", "bfloat16", "int32", "disable"]},
        "--gemm_plugin": {
            "choices": [
                "auto",
                "float16",
                "float32",
                "bfloat16",
                "int32",
                "fp8",
                "nvfp4",
                "disable",
            ]
        },
    },
    "removed_on_main": "mid-2026 (TensorRT-LLM PRs #15763, #15767, #15918, #16369)",
}

TRTLLM_BENCH = {
    "sources": [
        source(TRTLLM_REPO, "8b13f594", "tensorrt_llm/commands/bench.py", "older bracket"),
        source(TRTLLM_REPO, "0c9a37db", "tensorrt_llm/commands/bench.py", "newer bracket"),
        source(
            TRTLLM_REPO,
            "000a01de",
            "tensorrt_llm/bench/build/build.py",
            "older bracket (1.0.0rc4)",
        ),
        source(
            TRTLLM_REPO,
            "7eb710fa",
            "tensorrt_llm/bench/build/build.py",
            "newer bracket",
        ),
        source(
            TRTLLM_REPO,
            "index id 781189894",
            "tensorrt_llm/llmapi/llm_utils.py",
            "1.1-era ModelLoader",
        ),
    ],
    "method": "read",
    "brackets_agree": True,
    "global_flags": {
        "--model": {"type": "str", "required": True, "aliases": ["-m"]},
        "--model_path": {"type": "path"},
        "--workspace": {"type": "path", "aliases": ["-w"]},
    },
    "build_flags": {
        "--tp_size": {"type": "int"},
        "--pp_size": {"type": "int"},
        "--quantization": {"choices": ["FP8", "NVFP4", "FP8_BLOCK_SCALES", "W4A16_AWQ", "W4A8_AWQ"]},
        "--max_seq_len": {"type": "int"},
        "--max_batch_size": {
            "type": "int",
            "group": "max_batch_size+max_num_tokens: both or neither",
        },
        "--max_num_tokens": {
            "type": "int",
            "group": "max_batch_size+max_num_tokens: both or neither",
        },
        "--dataset": {"type": "path"},
        "--target_input_len": {"type": "int"},
        "--target_output_len": {"type": "int"},
    },
    "build_mode": "exactly one of dataset, max_batch_size, target_input_len; max_seq_len required without dataset",
    "engine_dir": "{workspace}/{model}/tp_{tp_size}_pp_{pp_size}",
    "hf_quant_config_shape": (
        "nested only: hf_quant_config.json is read as ['quantization'] (a flat ModelOpt file raises KeyError); "
        "without hf_quant_config.json a config.json quantization_config other than DeepSeek FP8-block or mxfp4 "
        "raises NotImplementedError('Unsupported quantization_config')"
    ),
    "kv_cache_quant_algo_forced": {"NVFP4": "FP8", "FP8": "FP8"},
}

PYTHON_API = {
    "sources": [
        source(
            TRTLLM_REPO,
            "index id 472971060",
            "tensorrt_llm/quantization/mode.py",
            "QuantAlgo",
        ),
        source(TRTLLM_REPO, "b35ac1b6", "tensorrt_llm/mapping.py", "Mapping"),
        source(TRTLLM_REPO, "373970a8", "tensorrt_llm/models/qwen/config.py", "QWenConfig"),
        source(
            TRTLLM_REPO,
            "index id 54584513530",
            "tensorrt_llm/models/qwen/model.py",
            "QWenForCausalLM",
        ),
        source(
            TRTLLM_REPO,
            "7eb710fa",
            "tensorrt_llm/models/modeling_utils.py",
            "QuantConfig, save_checkpoint",
        ),
    ],
    "method": "read",
    "brackets_agree": True,
    "QuantConfig": {
        "module": "tensorrt_llm.models.modeling_utils",
        "keywords": {
            "quant_algo": None,
            "kv_cache_quant_algo": None,
            "group_size": 128,
            "smoothquant_val": 0.5,
            "clamp_val": None,
            "use_meta_recipe": False,
            "has_zero_point": False,
            "pre_quant_scale": False,
            "exclude_modules": None,
        },
    },
    "QuantAlgo": {
        "module": "tensorrt_llm.quantization",
        "kind": "StrEnum",
        "values_used": ["FP8", "NVFP4"],
        "kv_cache_quant_algos": ["FP8", "INT8", "NVFP4"],
    },
    "Mapping": {
        "module": "tensorrt_llm.mapping",
        "positional": ["world_size", "rank", "gpus_per_node"],
        "keywords": {
            "world_size": 1,
            "rank": 0,
            "gpus_per_node": 8,
            "cp_size": 1,
            "cp_config": None,
            "tp_size": 1,
            "pp_size": 1,
            "moe_cluster_size": -1,
            "moe_tp_size": -1,
            "moe_ep_size": -1,
            "attn_tp_size": -1,
            "attn_cp_size": -1,
            "enable_attention_dp": False,
            "enable_lm_head_tp_in_adp": False,
        },
        "checks": "tp_size * pp_size * cp_size == world_size",
    },
    "model_classes": {
        "module": "tensorrt_llm.models",
        "MODEL_MAP": {
            "Qwen3ForCausalLM": "QWenForCausalLM",
            "Qwen2ForCausalLM": "QWenForCausalLM",
            "LlamaForCausalLM": "LLaMAForCausalLM",
            "MistralForCausalLM": "LLaMAForCausalLM",
        },
        "from_hugging_face": {
            "positional": ["hf_model_or_dir"],
            "keywords": {"dtype": "auto", "mapping": None, "quant_config": None},
            "accepts_extra_keywords": True,
        },
        "save_checkpoint": {
            "positional": ["output_dir"],
            "keywords": {"save_config": True},
            "writes": ["rank{rank}.safetensors", "config.json (if save_config)"],
        },
    },
}

TRITON = {
    "sources": [
        source(
            "triton-inference-server/server",
            "r25.12",
            "TRITON_VERSION",
            "Triton release of 25.12",
        ),
        source(
            "triton-inference-server/server",
            "r26.08",
            "docs/introduction/compatibility.md",
            "matrix",
        ),
        source(
            "triton-inference-server/python_backend",
            "r25.04",
            "README.md",
            "BLS request cancellation",
        ),
    ],
    "method": "read",
    "containers": {
        "25.12": {
            "triton": "2.64.0",
            "tensorrt_llm": "1.1.0",
            "tensorrt": "10.13.3.9",
            "cuda": "13.0.2",
            "python": "3.12.3",
        },
        "26.01": {"tensorrt_llm": "1.1.0"},
        "26.02": {"tensorrt_llm": "1.1.0"},
        "26.03": {"tensorrt_llm": "1.2.0", "tensorrt": "10.14.1.48", "cuda": "13.1.0"},
        "26.04": {"tensorrt_llm": "1.2.1"},
        "26.05": {"tensorrt_llm": "1.2.1"},
        "26.06": {"tensorrt_llm": "1.2.1"},
        "26.07": {"tensorrt_llm": "1.2.1"},
    },
    "engine_path_lines": ["1.1.x", "1.2.x"],
    "bls_cancellation": {
        "python_backend_bls_cancels_decoupled_requests_from": {
            "triton": "2.57",
            "container": "25.04",
        },
        "ensemble_cancels_running_decoupled_step": False,
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", type=Path, default=ROOT / ".cache" / "upstream")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "python" / "trtllm_nix" / "upstream_facts.json",
    )
    args = parser.parse_args()
    older = folder(args.upstream, OLDER[0], OLDER[1])
    newer = folder(args.upstream, NEWER[0], NEWER[1])
    old_template = parse_template(older / TEMPLATE)
    new_template = parse_template(newer / NEWER[2] / TEMPLATE)
    backend = parse_backend(older / CPP)
    old_names = {t["name"] for t in old_template["inputs"] + old_template["outputs"]}
    facts = {
        "format": 1,
        "about": "Facts about the pinned upstream (TensorRT-LLM 1.1.0), written by scripts/upstream_facts.py.",
        "pinned": {
            "tensorrtllm_backend": "b9cc224 (v1.1.0 release)",
            "tensorrt_llm": PINNED_TRTLLM,
            "container": "nvcr.io/nvidia/tritonserver:25.12-trtllm-python-py3",
        },
        "sources": {
            "triton_model": [
                source(
                    NEWER[0],
                    NEWER[1],
                    NEWER[2] + TEMPLATE,
                    "newer bracket (the facts)",
                    method="parsed",
                ),
                source(OLDER[0], OLDER[1], TEMPLATE, "older bracket", method="parsed"),
            ],
            "cpp_backend": [
                source(
                    OLDER[0],
                    OLDER[1],
                    CPP + "model_instance_state.cc",
                    "older bracket",
                    method="parsed",
                ),
                source(
                    OLDER[0],
                    OLDER[1],
                    CPP + "model_state.cc",
                    "older bracket",
                    method="parsed",
                ),
                source(
                    OLDER[0],
                    OLDER[1],
                    CPP + "utils.h",
                    "older bracket",
                    method="parsed",
                ),
                source(
                    OLDER[0],
                    OLDER[1],
                    CPP + "utils.cc",
                    "older bracket",
                    method="parsed",
                ),
                source(
                    TRTLLM_REPO,
                    NEWER_CPP_COMMIT,
                    "triton_backend/" + CPP + "model_instance_state.cc",
                    "newer bracket",
                    method="read: same unguarded tokenizer_dir / xgrammar_tokenizer_info_path / "
                    "guided_decoding_backend reads",
                ),
            ],
            "trtllm_build": TRTLLM_BUILD["sources"],
            "trtllm_bench": TRTLLM_BENCH["sources"],
            "python_api": PYTHON_API["sources"],
            "triton": TRITON["sources"],
        },
        "triton_model": {
            **new_template,
            "only_in_newer_bracket": sorted(
                {t["name"] for t in new_template["inputs"] + new_template["outputs"]} - old_names
            ),
            "parameters_agree": sorted(new_template["parameters"]) == sorted(old_template["parameters"]),
            "perf_metric_outputs": [
                "kv_cache_alloc_new_blocks",
                "kv_cache_reused_blocks",
                "kv_cache_alloc_total_blocks",
                "arrival_time_ns",
                "first_scheduled_time_ns",
                "first_token_time_ns",
                "last_token_time_ns",
                "acceptance_rate",
                "total_accepted_draft_tokens",
                "total_draft_tokens",
            ],
        },
        "cpp_backend": {
            **{
                k: v
                for k, v in backend.items()
                if k
                not in (
                    "guide_types",
                    "guided_decoding_backends",
                    "tokenizer_info_keys",
                )
            },
            "deprecated_gpt_model_type": {"V1": "static batching, deprecated (TensorRT-LLM PR #5562)"},
        },
        "guided_decoding": {
            "guide_types": backend["guide_types"],
            "backends": backend["guided_decoding_backends"],
            "empty_backend_means": "guided decoding off (also when xgrammar_tokenizer_info_path is empty)",
            "tokenizer_info_keys": backend["tokenizer_info_keys"],
        },
        "trtllm_build": {k: v for k, v in TRTLLM_BUILD.items() if k != "sources"},
        "trtllm_bench": {k: v for k, v in TRTLLM_BENCH.items() if k != "sources"},
        "python_api": {k: v for k, v in PYTHON_API.items() if k != "sources"},
        "triton": {k: v for k, v in TRITON.items() if k != "sources"},
    }
    args.out.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
