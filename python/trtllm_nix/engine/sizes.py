"""How big an engine should be: from the architecture, the quantization and the parallelism.

Linear layers are quantized (NVFP4: half a byte per weight plus one FP8 scale per 16; FP8: one byte), the
embedding and the untied lm_head stay 16-bit. The embedding is replicated on every rank, the lm_head and the
layers are split by TP, the layers by PP. Qwen3-32B NVFP4 gives 20.7 GB at TP1, 11.1 GB per rank at TP2 and
6.3 GB per rank at TP4; a BF16 engine is about 65 GB in total, the sign that quantization was not applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from trtllm_nix.errors import UserError

BYTES_PER_WEIGHT = {"NVFP4": 0.5 + 1 / 16, "FP8": 1.0, None: 2.0}
# The fields of Qwen/Qwen3-32B's config.json that the size model reads (the catalog's model: tests and
# scripts/gpu_report.py size its engines from them).
QWEN3_32B_CONFIG: Final = {
    "hidden_size": 5120,
    "num_hidden_layers": 64,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "intermediate_size": 25600,
    "vocab_size": 151936,
    "tie_word_embeddings": False,
}
TOLERANCE = 0.25


@dataclass(frozen=True)
class Architecture:
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool

    @classmethod
    def from_hf_config(cls, config: dict[str, Any]) -> Architecture:
        try:
            hidden = int(config["hidden_size"])
            heads = int(config["num_attention_heads"])
            return cls(
                hidden_size=hidden,
                num_layers=int(config["num_hidden_layers"]),
                num_heads=heads,
                num_kv_heads=int(config.get("num_key_value_heads", heads)),
                head_dim=int(config.get("head_dim") or config.get("head_size") or hidden // heads),
                intermediate_size=int(config["intermediate_size"]),
                vocab_size=int(config["vocab_size"]),
                tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            )
        except KeyError as error:
            raise UserError(f"the model config lacks {error.args[0]}; cannot size the engine") from error

    @property
    def linear_weights(self) -> int:
        q = self.hidden_size * self.num_heads * self.head_dim
        kv = 2 * self.hidden_size * self.num_kv_heads * self.head_dim
        o = self.num_heads * self.head_dim * self.hidden_size
        mlp = 3 * self.hidden_size * self.intermediate_size
        return self.num_layers * (q + kv + o + mlp)

    @property
    def embedding_weights(self) -> int:
        return self.vocab_size * self.hidden_size


def expected_rank_bytes(arch: Architecture, quant_algo: str | None, tp: int, pp: int = 1) -> float:
    """Expected size of one rank's engine file, in bytes."""
    if quant_algo not in BYTES_PER_WEIGHT:
        raise UserError(f"no size model for quant_algo {quant_algo}")
    layers = arch.linear_weights * BYTES_PER_WEIGHT[quant_algo] / (tp * pp)
    embedding = arch.embedding_weights * 2.0
    lm_head = 0.0 if arch.tie_word_embeddings else arch.embedding_weights * 2.0 / tp
    return layers + embedding + lm_head


def within_tolerance(actual: float, expected: float, tolerance: float = TOLERANCE) -> bool:
    return abs(actual - expected) <= tolerance * expected


def gigabytes(value: float) -> str:
    return f"{value / 1e9:.1f} GB"
