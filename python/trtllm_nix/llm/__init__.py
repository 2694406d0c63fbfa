"""The engine client: everything that turns a request into token ids and text through Triton's ``tensorrt_llm``
model, shared by the proxy, the Triton-side text models, the repository generator, the benchmark and the tests."""
