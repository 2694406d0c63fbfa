"""Write Triton models to disk: ``<name>/config.pbtxt`` printed from its protobuf, and ``<name>/1/`` files."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb


def render_config(config: pb.ModelConfig) -> str:
    return str(text_format.MessageToString(config))


def parse_config(text: str) -> pb.ModelConfig:
    config = pb.ModelConfig()
    text_format.Parse(text, config)
    return config


def write_model(root: Path, config: pb.ModelConfig, version_files: dict[str, str] | None = None) -> Path:
    """Write one model; the version folder ``1/`` always exists (ensembles need it empty)."""
    model_dir = root / str(config.name)
    version_dir = model_dir / "1"
    version_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(render_config(config), "utf-8")
    for name, content in sorted((version_files or {}).items()):
        (version_dir / name).write_text(content, "utf-8")
    return model_dir
