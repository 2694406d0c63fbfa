"""From a typed spec to a complete Triton model repository: pure, deterministic, written atomically.

The same spec always gives a byte-identical tree (sorted keys, no timestamps). Output goes to a temporary folder
beside ``out`` and is renamed into place only when complete, so a failure never leaves a half-written repository.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from trtllm_nix import __version__
from trtllm_nix.engine.engine_config import EngineInfo
from trtllm_nix.errors import UserError
from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.repo.tensorrt_llm_model import ReferenceBackend, TensorrtLlmOptions, tensorrt_llm_config
from trtllm_nix.repo.text_models import ensemble_config, model_py, postprocessing_config, preprocessing_config
from trtllm_nix.repo.tokenizer_info import TOKENIZER_INFO_FILE, tokenizer_info_text
from trtllm_nix.staging import staged_folder

MANIFEST_FORMAT = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RepositorySpec:
    engine: EngineInfo
    engine_path: str
    tokenizer_path: Path
    backend: Literal["tensorrtllm", "reference"] = "tensorrtllm"
    options: TensorrtLlmOptions = field(default_factory=TensorrtLlmOptions)
    max_batch_size: int | None = None
    preprocessing_instances: int = 1
    reference: ReferenceBackend | None = None
    # Guided decoding (xgrammar): writes tensorrt_llm/xgrammar_tokenizer_info.json from the tokenizer and points
    # the backend at it; write_repository fills in the file's final absolute path (the C++ backend needs one).
    guided_decoding: bool = False
    xgrammar_tokenizer_info_path: str = ""

    @property
    def triton_max_batch_size(self) -> int:
        return self.max_batch_size if self.max_batch_size is not None else self.engine.max_batch_size


def build_models(spec: RepositorySpec) -> dict[str, tuple[pb.ModelConfig, dict[str, str]]]:
    """Every model's config message and the files of its version folder, by model name."""
    if spec.backend == "reference" and spec.reference is None:
        raise UserError("the reference backend needs its settings (trtllm_nix_testkit.repository writes them)")
    batch = spec.triton_max_batch_size
    if batch < 1:
        raise UserError(f"--max-batch-size must be at least 1, got {batch}")
    if batch > spec.engine.max_batch_size:
        raise UserError(f"--max-batch-size {batch} exceeds the engine's max_batch_size {spec.engine.max_batch_size}")
    if spec.preprocessing_instances < 1:
        raise UserError(f"--preprocessing-instances must be at least 1, got {spec.preprocessing_instances}")
    try:
        spec.options.validate()
    except ValueError as error:
        raise UserError(str(error)) from error
    tokenizer = str(spec.tokenizer_path)
    reference = spec.reference if spec.backend == "reference" else None
    generator = tensorrt_llm_config(batch, spec.engine_path, resolved_options(spec), reference)
    if reference:  # the reference backend honours what an engine built with these flags would
        for flag in ("gather_context_logits", "gather_generation_logits"):
            generator.parameters[flag].string_value = "true" if getattr(spec.engine, flag) else "false"
    if spec.guided_decoding:
        generator.parameters["guided_decoding_backend"].string_value = "xgrammar"
        generator.parameters["xgrammar_tokenizer_info_path"].string_value = spec.xgrammar_tokenizer_info_path
    return {
        "tensorrt_llm": (generator, {"model.py": reference.model_py} if reference else {}),
        "preprocessing": (
            preprocessing_config(batch, tokenizer, spec.preprocessing_instances),
            {"model.py": model_py("trtllm_nix.triton_models.preprocessing")},
        ),
        "postprocessing": (
            postprocessing_config(batch, tokenizer),
            {"model.py": model_py("trtllm_nix.triton_models.postprocessing")},
        ),
        "ensemble": (
            ensemble_config(batch, tokenizer, spec.engine.max_seq_len, "tensorrt_llm"),
            {"model.py": model_py("trtllm_nix.triton_models.text_generation")},
        ),
    }


def resolved_options(spec: RepositorySpec) -> TensorrtLlmOptions:
    """Chunked context on where the engine allows it (paged context FMHA); refused where it does not."""
    chunked = spec.options.enable_chunked_context
    if chunked and not spec.engine.paged_context_fmha:
        raise UserError(
            "--enable-chunked-context needs an engine built with paged context FMHA (trtllm-build "
            "--use_paged_context_fmha enable, as trtllm-nix engine build does); rebuild or drop the flag"
        )
    if chunked is None:
        chunked = spec.engine.paged_context_fmha
    return replace(spec.options, enable_chunked_context=chunked)


def serving_limits(spec: RepositorySpec) -> dict[str, int]:
    """What the server can run, from the engine built: without chunked context a prompt must fit one context
    step (max_num_tokens), so the proxy must refuse longer prompts."""
    engine = spec.engine
    max_input = engine.max_input_len
    if not resolved_options(spec).enable_chunked_context:
        max_input = min(max_input, engine.max_num_tokens)
    return {"max_seq_len": engine.max_seq_len, "max_input_len": max_input, "max_num_tokens": engine.max_num_tokens}


def render_config(config: pb.ModelConfig) -> str:
    return str(text_format.MessageToString(config))


def parse_config(text: str) -> pb.ModelConfig:
    config = pb.ModelConfig()
    text_format.Parse(text, config)
    return config


def render_tree(spec: RepositorySpec) -> dict[str, str]:
    """The whole repository as relative path -> text; the manifest describes the rest."""
    files = ModelFiles.load(spec.tokenizer_path)
    tree: dict[str, str] = {}
    digests: dict[str, str] = {}
    for name, (config, version_files) in sorted(build_models(spec).items()):
        text = render_config(config)
        tree[f"{name}/config.pbtxt"] = text
        digests[name] = hashlib.sha256(text.encode()).hexdigest()
        for file_name, content in sorted(version_files.items()):
            tree[f"{name}/1/{file_name}"] = content
    if spec.guided_decoding:
        tree[f"tensorrt_llm/{TOKENIZER_INFO_FILE}"] = tokenizer_info_text(spec.tokenizer_path)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "generator": {"name": "trtllm-nix", "version": __version__},
        "backend": spec.backend,
        "world_size": spec.engine.world_size,
        "generator_model": "tensorrt_llm",
        "max_batch_size": spec.triton_max_batch_size,
        "engine": {**spec.engine.manifest(), "path": spec.engine_path},
        "tokenizer": {
            "path": str(spec.tokenizer_path),
            "tokenizer_json_sha256": hashlib.sha256((spec.tokenizer_path / "tokenizer.json").read_bytes()).hexdigest(),
            "end_id": files.eos_token_id,
            "pad_id": files.pad_token_id,
            "end_token_ids": list(files.end_token_ids),
        },
        "options": asdict(resolved_options(spec)),
        "limits": serving_limits(spec),
        "reference": spec.reference.manifest() if spec.backend == "reference" and spec.reference else None,
        "models": {name: {"config_sha256": digest} for name, digest in sorted(digests.items())},
    }
    tree[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return tree


def write_repository(spec: RepositorySpec, out: Path, force: bool = False) -> Path:
    """Write the repository to ``out``; refuse a non-empty ``out`` unless ``force``. Atomic: temp folder, rename."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"--out {out} is not empty; pass --force to replace it")
    if spec.guided_decoding:
        spec = replace(spec, xgrammar_tokenizer_info_path=str(out.resolve() / "tensorrt_llm" / TOKENIZER_INFO_FILE))
    tree = render_tree(spec)  # every check happens before anything is written
    with staged_folder(out) as staging:
        for relative, content in tree.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, "utf-8")
        for model in ("tensorrt_llm", "preprocessing", "postprocessing", "ensemble"):
            (staging / model / "1").mkdir(parents=True, exist_ok=True)
    return out


def read_manifest(repository: Path) -> dict[str, Any]:
    path = repository / MANIFEST
    if not path.is_file():
        raise UserError(f"{repository} has no {MANIFEST}: generate it with `trtllm-nix repo generate`")
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise UserError(f"{path} is not a trtllm-nix manifest of format {MANIFEST_FORMAT}; regenerate the repository")
    return data
