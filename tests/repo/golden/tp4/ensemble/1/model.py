"""Implemented in trtllm_nix.triton_models.text_generation (trtllm-nix)."""

import sys

if '@SOURCES@' not in sys.path:
    sys.path.append('@SOURCES@')

from trtllm_nix.triton_models.text_generation import TritonPythonModel  # noqa: E402

__all__ = ["TritonPythonModel"]
