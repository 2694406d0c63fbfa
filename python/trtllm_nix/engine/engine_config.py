"""An engine folder's ``config.json`` (written by TensorRT-LLM's builder), read into one typed record.

The only reader of an engine's ``config.json``: ``engine check``, ``repo generate``, ``doctor``, the build's
supervisor and (through the repository) ``serve`` all go through here. Two folder layouts are accepted as they are:
``trtllm-nix engine build``'s (tokenizer files in ``tokenizer/``) and the seed's flake's, which is what
``trtllm-build --output_dir`` writes plus the tokenizer files copied beside ``config.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from trtllm_nix.errors import UserError


@dataclass(frozen=True)
class EngineInfo:
    """The facts about an engine that a model repository and a launcher depend on."""

    architecture: str
    dtype: str
    tp_size: int
    pp_size: int
    max_batch_size: int
    max_seq_len: int
    max_input_len: int
    max_num_tokens: int
    vocab_size: int
    quant_algo: str | None
    kv_cache_quant_algo: str | None
    trtllm_version: str
    paged_context_fmha: bool
    config_sha256: str
    # The pretrained_config section as written (architecture fields for the size model).
    pretrained: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # trtllm-build --gather_context_logits / --gather_generation_logits: the engine can return the prompt's and
    # each generated token's logits (prompt scoring, top-k alternatives); both cost memory (docs/evaluation.md).
    gather_context_logits: bool = False
    gather_generation_logits: bool = False

    @property
    def world_size(self) -> int:
        return self.tp_size * self.pp_size

    def rank_files(self) -> list[str]:
        return [f"rank{rank}.engine" for rank in range(self.world_size)]

    def manifest(self) -> dict[str, Any]:
        """The repository manifest's ``engine`` section: the fields but the raw config and paged_context_fmha."""
        skip = ("pretrained", "paged_context_fmha", "trtllm_version")
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        return {**values, "world_size": self.world_size, "tensorrt_llm_version": self.trtllm_version}


TOKENIZER_DIR = "tokenizer"  # where trtllm-nix engine build puts the tokenizer files


class NotAnEngine(UserError):
    """The folder has no engine config.json, or it is a Hugging Face config copied over."""


def read_engine(folder: Path, require_ranks: bool = True) -> EngineInfo:
    """Read and check an engine folder; every problem is a :class:`UserError` naming the fix."""
    config_path = folder / "config.json"
    if not folder.is_dir():
        raise NotAnEngine(f"engine folder {folder} does not exist")
    if not config_path.is_file():
        raise NotAnEngine(f"{config_path} is missing: --engine must be a folder written by trtllm-build")
    raw = config_path.read_bytes()
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise NotAnEngine(f"{config_path} is not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(config, dict) or "build_config" not in config or "pretrained_config" not in config:
        raise NotAnEngine(
            f"{config_path} is a Hugging Face model config, not a TensorRT-LLM engine config (no build_config); "
            "point --engine at the folder trtllm-build wrote (the seed's \"key 'builder_config' not found\")"
        )
    pretrained = _section(config, "pretrained_config", config_path)
    build = _section(config, "build_config", config_path)
    mapping = pretrained.get("mapping") or {}
    quant = pretrained.get("quantization") or {}
    plugins = build.get("plugin_config") or {}
    tp = int(mapping.get("tp_size", 1))
    pp = int(mapping.get("pp_size", 1))
    world = int(mapping.get("world_size", tp * pp))
    if tp < 1 or pp < 1 or world != tp * pp:
        raise UserError(
            f"{config_path}: mapping says world_size {world} but tp_size {tp} x pp_size {pp}; the engine is broken"
        )
    try:
        max_batch = int(build["max_batch_size"])
        max_seq = int(build["max_seq_len"])
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{config_path}: build_config lacks max_batch_size or max_seq_len") from error
    info = EngineInfo(
        architecture=str(pretrained.get("architecture", "unknown")),
        dtype=str(pretrained.get("dtype", "unknown")),
        tp_size=tp,
        pp_size=pp,
        max_batch_size=max_batch,
        max_seq_len=max_seq,
        max_input_len=int(build.get("max_input_len") or max_seq),
        max_num_tokens=int(build.get("max_num_tokens") or 8192),
        vocab_size=int(pretrained.get("vocab_size", 0)),
        quant_algo=quant.get("quant_algo"),
        kv_cache_quant_algo=quant.get("kv_cache_quant_algo"),
        trtllm_version=str(config.get("version", "unknown")),
        paged_context_fmha=bool(plugins.get("use_paged_context_fmha", False)),
        gather_context_logits=bool(build.get("gather_context_logits", False)),
        gather_generation_logits=bool(build.get("gather_generation_logits", False)),
        config_sha256=hashlib.sha256(raw).hexdigest(),
        pretrained=dict(pretrained),
    )
    if require_ranks:
        missing = [name for name in info.rank_files() if not (folder / name).is_file()]
        if missing:
            raise UserError(
                f"{folder} is built for TP {info.tp_size} x PP {info.pp_size} = {info.world_size} ranks but "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing; rebuild the engine"
            )
    return info


def complete_files(folder: Path) -> dict[str, int] | None:
    """Sizes of config.json and every rank file once the config names the world size and all exist; else None
    (a build in progress)."""
    try:
        info = read_engine(folder, require_ranks=False)
    except UserError:
        return None
    names = ["config.json", *info.rank_files()]
    try:
        return {name: (folder / name).stat().st_size for name in names}
    except FileNotFoundError:
        return None


def engine_tokenizer(folder: Path) -> Path | None:
    """The engine's own tokenizer folder: ``tokenizer/`` (trtllm-nix's layout), else the engine folder itself when
    the tokenizer files sit beside ``config.json`` (the seed's layout); None when neither has one."""
    for candidate in (folder / TOKENIZER_DIR, folder):
        if any((candidate / name).is_file() for name in ("tokenizer.json", "tokenizer.model")):
            return candidate
    return None


def _section(config: dict[str, Any], name: str, where: Path) -> dict[str, Any]:
    section = config.get(name)
    if not isinstance(section, dict):
        raise UserError(f"{where}: {name} is missing or not an object")
    return section
