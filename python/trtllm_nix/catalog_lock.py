"""``trtllm-nix catalog lock MODEL``: the lock step for a catalog model, like ``nix flake update`` for an input.
It resolves the model's Hub revision (a branch, default ``main``, to its commit), downloads exactly the files the
Nix downloads fetch (``catalog.json`` ``hf_files``) at that commit, and records the commit and the NAR hashes
Nix will check (``revision``, ``weights_hash``, ``tokenizer_hash``) in ``catalog.json``. The weights are
downloaded in full once, as Nix would; ``--tokenizer-only`` pins just the revision and the tokenizer."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtllm_nix.engine.download import COMMIT
from trtllm_nix.errors import UserError
from trtllm_nix.nar import nar_hash_sri

CHECKOUT_CATALOG = Path("python/trtllm_nix/catalog.json")


@dataclass(frozen=True)
class Lock:
    model: str
    revision: str
    tokenizer_hash: str
    weights_hash: str | None


def register(commands: Any) -> None:
    catalog = commands.add_parser("catalog", help="pin catalog models (a lock step, like `nix flake update`)")
    actions = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    lock = actions.add_parser("lock", help="resolve a model's revision and record its hashes in catalog.json")
    lock.add_argument("model", help="catalog model, e.g. qwen3-32b")
    lock.add_argument("--revision", default="main", help="branch, tag or commit to pin (default: main)")
    lock.add_argument(
        "--catalog", type=Path, help=f"catalog.json to update (default: {CHECKOUT_CATALOG} in this checkout)"
    )
    lock.add_argument("--tokenizer-only", action="store_true", help="skip the weights download (no weights_hash)")
    lock.set_defaults(handler=run_lock)


def run_lock(args: argparse.Namespace) -> int:
    path: Path = args.catalog or CHECKOUT_CATALOG
    if not path.is_file():
        raise UserError(f"no catalog at {path}: run this in a trtllm-nix checkout or pass --catalog FILE")
    data = json.loads(path.read_text("utf-8"))
    if args.model not in data["models"]:
        raise UserError(f"no catalog model {args.model!r}; known: {', '.join(sorted(data['models']))}")
    with tempfile.TemporaryDirectory(prefix="trtllm-nix-lock-") as scratch:
        lock = lock_model(data, args.model, args.revision, Path(scratch), weights=not args.tokenizer_only)
    entry = data["models"][args.model]
    entry["revision"] = lock.revision
    entry["tokenizer_hash"] = lock.tokenizer_hash
    entry["weights_hash"] = lock.weights_hash
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"{args.model}: revision {lock.revision}")
    print(f"{args.model}: tokenizer_hash {lock.tokenizer_hash}")
    print(f"{args.model}: weights_hash {lock.weights_hash or 'null (--tokenizer-only)'}")
    print(f"wrote {path}")
    return 0


def lock_model(data: dict[str, Any], model: str, revision: str, scratch: Path, *, weights: bool = True) -> Lock:
    hf_id: str = data["models"][model]["hf_id"]
    commit = resolve_revision(hf_id, revision)
    tokenizer = fetch(hf_id, commit, data["hf_files"]["tokenizer"], scratch / "tokenizer")
    tokenizer_hash = nar_hash_sri(tokenizer)
    weights_hash = None
    if weights:
        shutil.rmtree(tokenizer)
        weights_hash = nar_hash_sri(fetch(hf_id, commit, data["hf_files"]["weights"], scratch / "weights"))
    return Lock(model, commit, tokenizer_hash, weights_hash)


def resolve_revision(hf_id: str, revision: str) -> str:
    """The commit a branch or tag points at now (a commit is checked to exist)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

    try:
        meta = get_hf_file_metadata(hf_hub_url(hf_id, "config.json", revision=revision))
    except RepositoryNotFoundError as error:
        raise UserError(f"{hf_id} was not found on the Hub (or needs a token: set HF_TOKEN)") from error
    except EntryNotFoundError as error:
        raise UserError(f"{hf_id}@{revision} has no config.json: not a model checkpoint") from error
    except (HfHubHTTPError, OSError) as error:
        raise UserError(f"resolving {hf_id}@{revision} failed: {str(error).splitlines()[0]}") from error
    commit = meta.commit_hash
    if commit is None or not COMMIT.match(commit):
        raise UserError(f"the Hub did not say which commit {hf_id}@{revision} is")
    return commit


def fetch(hf_id: str, commit: str, patterns: list[str], out: Path) -> Path:
    """What the Nix download's ``hf download REPO --revision C --local-dir $out --include P...`` leaves in $out
    (it removes the client's ``.cache`` folder)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        snapshot_download(repo_id=hf_id, revision=commit, allow_patterns=patterns, local_dir=str(out))
    except (HfHubHTTPError, OSError) as error:
        raise UserError(f"downloading {hf_id}@{commit} failed: {str(error).splitlines()[0]}; run again") from error
    shutil.rmtree(out / ".cache", ignore_errors=True)
    return out
