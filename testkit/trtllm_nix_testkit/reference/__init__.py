"""The reference backend: a Triton Python model named ``tensorrt_llm`` that honours TensorRT-LLM's tensor contract.

It stands in for the real TensorRT-LLM engine wherever no Blackwell GPU is at hand, so that the model repository,
the launcher and the proxy run exactly as they would in front of the real engine.
"""
