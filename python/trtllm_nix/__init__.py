"""trtllm-nix: from a pre-quantized Hugging Face checkpoint to an OpenAI-compatible endpoint."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trtllm-nix")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
