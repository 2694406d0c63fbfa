"""Implemented in trtllm_nix.triton_models.text_generation (trtllm-nix)."""

from trtllm_nix.triton_models.text_generation import TritonPythonModel

__all__ = ["TritonPythonModel"]
