"""The real SmolLM2-135M-Instruct and its ModelOpt exports (built by the session's ``assets`` fixture)."""

from __future__ import annotations

from typing import Final

# The fixed question the real model answers, and the word its answer must contain.
QUESTION: Final = "What is the capital of France?"
ANSWER_WORD: Final = "Paris"
# More prompts whose next-token logits the quantized exports must reproduce closely.
LOGIT_PROMPTS: Final = (QUESTION, "Write one sentence about the sea.")
