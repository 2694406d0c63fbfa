"""TensorRT-LLM engines: what an engine folder holds, how to build one, and how to check it."""
