"""Logprobs and top-k alternatives from the logits TensorRT-LLM returns (``context_logits`` for the prompt,
``generation_logits`` for each generated token): what prompt scoring (``echo`` + ``logprobs``) needs.

Pure numpy, which releases the GIL: ``llm.generation`` runs these in a worker thread, never on the event loop
(a 1,000-token prompt is seconds of work)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trtllm_nix.llm.events import PromptScores, TopLogprob

Logits = npt.NDArray[np.float32]


def log_softmax(rows: Logits) -> Logits:
    """Row-wise log-softmax in float32 with a float64 accumulator for the sum (a 151,936-wide sum loses digits in
    float32): two float32 temporaries of the logits' size, not float64 copies (8x the logits with them)."""
    shifted = np.subtract(rows, rows.max(axis=-1, keepdims=True), dtype=np.float32)
    total = np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float64)
    shifted -= np.log(total).astype(np.float32)
    return shifted


def top_alternatives(logprobs: Logits, k: int) -> tuple[tuple[TopLogprob, ...], ...]:
    """The ``k`` most likely tokens of each row, best first (ties by lower id)."""
    if k <= 0:
        return tuple(() for _ in range(logprobs.shape[0]))
    out = []
    for row in logprobs:
        best = np.argpartition(-row, min(k, row.size - 1))[:k]
        ordered = sorted(best.tolist(), key=lambda token: (-float(row[token]), token))
        out.append(tuple(TopLogprob(int(token), float(row[token])) for token in ordered))
    return tuple(out)


def score_prompt(prompt_ids: list[int], context_logits: Logits, k: int) -> PromptScores:
    """Row ``i`` of the context logits predicts prompt token ``i + 1``."""
    if context_logits.shape[0] < len(prompt_ids):
        raise ValueError(
            f"the backend returned context logits for {context_logits.shape[0]} of {len(prompt_ids)} prompt tokens"
        )
    rows = log_softmax(context_logits[: len(prompt_ids)])
    chosen = [float(rows[i, token]) for i, token in enumerate(prompt_ids[1:])]
    top = top_alternatives(rows[:-1], k)
    return PromptScores((None, *chosen), ((), *top), rows[-1] if rows.shape[0] == len(prompt_ids) else None)


def first_end_token(
    scores: PromptScores, end_ids: set[int], k: int
) -> tuple[int, float, tuple[TopLogprob, ...]] | None:
    """The end token that ended an answer before its first token, scored from the prompt's last row: the most
    likely end token (the backend returns none, nor says which one it sampled)."""
    row = scores.following
    if row is None or not end_ids:
        return None
    token = max(sorted(end_ids), key=lambda end: float(row[end]))
    return token, float(row[token]), top_alternatives(row[None], k)[0]


def generated_alternatives(generation_logits: Logits, k: int) -> tuple[tuple[TopLogprob, ...], ...]:
    return top_alternatives(log_softmax(generation_logits), k)
