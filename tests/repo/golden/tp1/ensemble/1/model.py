"""Implemented in trtllm_nix.triton_models.text_generation (trtllm-nix)."""

import sys

if "@SOURCES@" not in sys.path:
    sys.path.append("@SOURCES@")

from trtllm_nix.triton_models.text_generation import TritonPythonModel

__all__ = ["TritonPythonModel"]
