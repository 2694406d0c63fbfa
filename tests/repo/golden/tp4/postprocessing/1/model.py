"""Implemented in trtllm_nix.triton_models.postprocessing (trtllm-nix)."""

import sys

if "@SOURCES@" not in sys.path:
    sys.path.append("@SOURCES@")

from trtllm_nix.triton_models.postprocessing import TritonPythonModel

__all__ = ["TritonPythonModel"]
