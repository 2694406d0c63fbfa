"""Implemented in trtllm_nix.triton_models.preprocessing (trtllm-nix)."""

from trtllm_nix.triton_models.preprocessing import TritonPythonModel

__all__ = ["TritonPythonModel"]
