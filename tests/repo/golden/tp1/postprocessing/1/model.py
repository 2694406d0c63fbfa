"""Implemented in trtllm_nix.triton_models.postprocessing (trtllm-nix)."""

from trtllm_nix.triton_models.postprocessing import TritonPythonModel

__all__ = ["TritonPythonModel"]
