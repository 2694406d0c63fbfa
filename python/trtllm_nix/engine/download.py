"""Get a checkpoint: a local folder as it is, or a pinned revision from the Hugging Face Hub, only what a build
(or only what the tokenizer) needs. huggingface_hub resumes interrupted downloads and shows progress bars."""

from __future__ import annotations

import re
from pathlib import Path

from trtllm_nix.errors import UserError

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
)
BUILD_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "config.json", "hf_quant_config.json", *TOKENIZER_FILES)
TOKENIZER_PATTERNS = (*TOKENIZER_FILES, "config.json")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def resolve_model(model: str, revision: str | None, patterns: tuple[str, ...], cache_dir: Path | None = None) -> Path:
    local = Path(model)
    if local.is_dir():
        return local
    if model.startswith(("/", ".", "~")) or not _REPO_ID.match(model):
        raise UserError(f"--model {model} is neither a folder nor a Hugging Face id like nvidia/Qwen3-32B-NVFP4")
    if revision is not None and not COMMIT.match(revision):
        raise UserError(f"--revision {revision} is not a commit hash (40 hex digits); pin a commit, not a branch")
    if revision is None:
        print(f"warning: {model} is not pinned; pass --revision <commit> for a reproducible build")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        path = snapshot_download(
            repo_id=model,
            revision=revision,
            allow_patterns=list(patterns),
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    except RepositoryNotFoundError as error:
        raise UserError(f"{model} was not found on the Hub (or needs a token: set HF_TOKEN)") from error
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise UserError(f"downloading {model} failed: {str(error).splitlines()[0]}; run again to resume") from error
    return Path(path)


def copy_tokenizer(source: Path, dest: Path) -> list[str]:
    """Copy the tokenizer files (an explicit list: never config.json) into ``dest``."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, dest / name)
            copied.append(name)
    if "tokenizer.json" not in copied and "tokenizer.model" not in copied:
        raise UserError(f"{source} has no tokenizer.json or tokenizer.model")
    return copied
