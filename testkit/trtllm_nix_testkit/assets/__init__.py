"""Generated test and demo assets: the real Qwen tokenizer and a tiny random Qwen3."""
