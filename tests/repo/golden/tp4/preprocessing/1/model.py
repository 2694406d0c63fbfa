"""Implemented in trtllm_nix.triton_models.preprocessing (trtllm-nix)."""

import sys

if "@SOURCES@" not in sys.path:
    sys.path.append("@SOURCES@")

from trtllm_nix.triton_models.preprocessing import TritonPythonModel

__all__ = ["TritonPythonModel"]
