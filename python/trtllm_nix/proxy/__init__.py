"""The OpenAI-compatible proxy in front of Triton: chat template, token ids over gRPC, byte-correct text."""
