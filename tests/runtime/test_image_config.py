"""The image's own environment: its OCI config when present, NVIDIA's documented set otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trtllm_nix.errors import SetupError
from trtllm_nix.runtime.image_config import read_image_config


def test_config_json_is_the_environment(tmp_path: Path) -> None:
    env = ["PATH=/opt/x/bin:/usr/bin", "LD_LIBRARY_PATH=/usr/local/tensorrt/lib", "A=b=c"]
    (tmp_path / ".image-config.json").write_text(json.dumps({"config": {"Env": env, "WorkingDir": "/opt/x"}}))
    config = read_image_config(tmp_path)
    assert config.environment == {
        "PATH": "/opt/x/bin:/usr/bin",
        "LD_LIBRARY_PATH": "/usr/local/tensorrt/lib",
        "A": "b=c",
    }
    assert config.working_dir == "/opt/x"


def test_without_config_the_ngc_defaults_find_tensorrt_and_tritonserver(tmp_path: Path) -> None:
    config = read_image_config(tmp_path)
    assert "/usr/local/tensorrt/lib" in config.environment["LD_LIBRARY_PATH"].split(":")
    assert config.environment["PATH"].split(":")[0] == "/opt/tritonserver/bin"
    assert "defaults" in config.source


def test_broken_config_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".image-config.json").write_text("{not json")
    with pytest.raises(SetupError, match="is not an OCI image config"):
        read_image_config(tmp_path)
