"""Triton model repositories for TensorRT-LLM engines, built from typed protobuf messages."""
