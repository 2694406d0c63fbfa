"""Guided decoding for the reference backend: TensorRT-LLM's ``guided_decoding_*`` contract, run with xgrammar on CPU.

Stands in for TensorRT-LLM's C++ ``GuidedDecoder`` (cpp/tensorrt_llm/batch_manager/guidedDecoder.cpp): the grammar
compiler is built from the same ``xgrammar_tokenizer_info_path`` JSON (``encoded_vocab``, ``tokenizer_str``,
``stop_token_ids``) the way ``xgrammar::TokenizerInfo::FromHuggingFace`` builds it, padded to the model's vocabulary;
``json`` compiles xgrammar's built-in JSON grammar, ``json_schema`` the schema, ``regex`` and ``ebnf_grammar`` their
grammars; every step fills the next-token bitmask and the sampled token is accepted into the matcher.
What it cannot show: the GPU bitmask kernel, the exact xgrammar build linked into a given TensorRT-LLM release (the
Python package is pinned to the version TensorRT-LLM pins, see python/constraints.txt), and batching of masks.

Not shared with the proxy's xgrammar code (``trtllm_nix.proxy.structured``, ``proxy.grammar``,
``proxy.guide_compiler``), on purpose: the two have a few lines alike (a guide type to an xgrammar compile call) but
stand for different sides. The proxy turns a client's fields into a guide and checks it within bounds and a deadline
against a byte vocabulary, then drops the compiled grammar; it never sends ``json`` as such. This module is the
backend the proxy's guides are tested against, built the way TensorRT-LLM builds its compiler and compiling every
type TensorRT-LLM takes (``json`` as xgrammar's built-in JSON grammar). Sharing the proxy's code would make a
mistake there on both sides of every test; this module follows TensorRT-LLM, not the proxy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtllm_nix_testkit.reference.contract import GuidedRequest

if TYPE_CHECKING:
    import torch

# The guide types TensorRT-LLM's Triton backend maps (utils.cc getGuidedDecodingParamsFromTensors); any other value
# is silently ignored there, and so it is here.
KNOWN_GUIDE_TYPES = frozenset({"json", "json_schema", "regex", "ebnf_grammar"})


# The scripted fallback prefers, after the stop token, text that closes what is open (so its answers end).
CLOSING_TEXT = (b'"', b"}", b"]")


class GuidedDecodingOff(ValueError):
    """A request asked for guided decoding on a model that was not configured for it."""


def start_guide(grammar: GrammarEngine | None, guided: GuidedRequest | None) -> Guide | None:
    """The request's guide; a clear error when it asks for one and the model has guided decoding off."""
    if guided is None:
        return None
    if grammar is None:
        raise GuidedDecodingOff(
            "guided decoding is off for this model: set its parameters guided_decoding_backend=xgrammar and "
            "xgrammar_tokenizer_info_path"
        )
    return grammar.start(guided)


def grammar_from_parameters(params: dict[str, str], base: Path, model_dir: Path | None) -> GrammarEngine | None:
    """The model's grammar engine from its config parameters, read as TensorRT-LLM's C++ backend reads them
    (model_instance_state.cc getGuidedDecodingConfigFromParams): off when ``guided_decoding_backend`` or
    ``xgrammar_tokenizer_info_path`` is empty or an unfilled ``${...}``; only ``xgrammar`` is accepted; the file
    must exist. The vocabulary is padded to the model's ``vocab_size`` (the engine's padded vocabulary)."""
    backend = params.get("guided_decoding_backend", "")
    path = params.get("xgrammar_tokenizer_info_path", "")
    if not backend or backend.startswith("${") or not path or path.startswith("${"):
        return None
    if backend != "xgrammar":
        raise ValueError(f"guided_decoding_backend is {backend!r}: only 'xgrammar' is supported (or empty for off)")
    info = Path(path) if Path(path).is_absolute() else (base / path).resolve()
    if not info.is_file():
        raise ValueError(f"xgrammar_tokenizer_info_path {info} does not exist")
    vocab_size = None
    if model_dir is not None and (model_dir / "config.json").is_file():
        vocab_size = json.loads((model_dir / "config.json").read_text("utf-8")).get("vocab_size")
    return GrammarEngine(info, int(vocab_size) if vocab_size else None)


def load_tokenizer_info_json(path: Path) -> dict[str, Any]:
    """The tokenizer-info file, checked for the three keys the C++ backend reads."""
    data = json.loads(path.read_text("utf-8"))
    missing = [key for key in ("encoded_vocab", "tokenizer_str", "stop_token_ids") if key not in data]
    if missing:
        raise ValueError(f"{path}: the xgrammar tokenizer info lacks {', '.join(missing)}")
    return dict(data)


def tokenizer_info_from_json(data: dict[str, Any], vocab_size: int | None) -> Any:
    """``xgrammar.TokenizerInfo`` as the C++ ``TokenizerInfo::FromHuggingFace(vocab, tokenizer_str, size, stops)``."""
    import xgrammar

    detected = xgrammar.TokenizerInfo._detect_metadata_from_hf(data["tokenizer_str"])
    vocab = list(data["encoded_vocab"])
    return xgrammar.TokenizerInfo(
        vocab,
        detected["vocab_type"],
        vocab_size=max(vocab_size or 0, len(vocab)),
        stop_token_ids=[int(token) for token in data["stop_token_ids"]],
        add_prefix_space=bool(detected["add_prefix_space"]),
    )


class GrammarEngine:
    """One grammar compiler per model (built lazily on the first guided request: about 0.3 s for Qwen)."""

    def __init__(self, tokenizer_info_path: Path, vocab_size: int | None) -> None:
        self._path = tokenizer_info_path
        self._vocab_size = vocab_size

    @cached_property
    def _info(self) -> Any:
        return tokenizer_info_from_json(load_tokenizer_info_json(self._path), self._vocab_size)

    @cached_property
    def _compiler(self) -> Any:
        import xgrammar

        return xgrammar.GrammarCompiler(self._info, max_threads=1)

    @cached_property
    def _fallback_order(self) -> torch.Tensor:
        """Token ids in the scripted fallback's order of preference: closing text, then every token that is not
        only whitespace and does not open a tag (``<``) by id, then those that open a tag, then whitespace-only
        tokens by id. A tag comes last but one because ``<`` is the lowest allowed id where a grammar lets an
        optional ``<think>`` block come before the answer: taking it, the fallback once spelled ``<think>`` and then
        wrote ``"`` (closing text, always allowed there) until the length limit. Among tags, whole-tag tokens come
        first (``<tool_call>``'s id is below ``<think>``'s in Qwen's vocabulary): a forced call took ``<``, spelled
        ``<think>`` and never left the block."""
        import torch

        decoded: list[bytes] = list(self._info.decoded_vocab)
        closing = [decoded.index(text) for text in CLOSING_TEXT if text in decoded]
        spaces = [i for i, text in enumerate(decoded) if text and not text.strip()]
        # whole tags (one token, "<tool_call>") before pieces ("<", "<t"): a piece may go on to spell <think>
        tags = sorted(
            (i for i, text in enumerate(decoded) if text.startswith(b"<") and i not in closing),
            key=lambda i: (not decoded[i].endswith(b">"), i),
        )
        rest = sorted(set(range(self.vocab_size)) - set(closing) - set(spaces) - set(tags))
        return torch.tensor(closing + rest + tags + spaces, dtype=torch.long)

    @property
    def vocab_size(self) -> int:
        return int(self._info.vocab_size)

    def start(self, guided: GuidedRequest) -> Guide | None:
        """A matcher for the request, or None for a guide type TensorRT-LLM would ignore."""
        import xgrammar

        if guided.guide_type not in KNOWN_GUIDE_TYPES:
            return None
        compiler = self._compiler
        if guided.guide_type == "json":
            compiled = compiler.compile_builtin_json_grammar()
        elif guided.guide_type == "json_schema":
            compiled = compiler.compile_json_schema(guided.guide)
        elif guided.guide_type == "regex":
            compiled = compiler.compile_grammar(xgrammar.Grammar.from_regex(guided.guide))
        else:
            compiled = compiler.compile_grammar(xgrammar.Grammar.from_ebnf(guided.guide))
        return Guide(xgrammar.GrammarMatcher(compiled), self.vocab_size, self._fallback_order)


@dataclass
class Guide:
    """One request's grammar state: which tokens may come next, and the tokens generated so far."""

    matcher: Any
    vocab_size: int
    fallback_order: torch.Tensor

    @cached_property
    def _bitmask(self) -> torch.Tensor:
        import xgrammar

        return xgrammar.allocate_token_bitmask(1, self.vocab_size)

    @property
    def stop_token_ids(self) -> list[int]:
        return [int(token) for token in self.matcher.stop_token_ids]

    @property
    def terminated(self) -> bool:
        """The grammar is complete and a stop token has been accepted: nothing more is constrained."""
        return bool(self.matcher.is_terminated())

    def allowed(self) -> torch.Tensor:
        """A boolean tensor over the vocabulary: True where the token may come next."""
        import torch

        self.matcher.fill_next_token_bitmask(self._bitmask)
        words = self._bitmask[0].to(torch.int64) & 0xFFFFFFFF
        bits = (words.unsqueeze(1) >> torch.arange(32, dtype=torch.int64)) & 1
        return bits.reshape(-1)[: self.vocab_size].bool()

    def mask_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` with every disallowed token at -inf (entries past the grammar's vocabulary too)."""
        import torch

        allowed = self.allowed()
        keep = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        size = min(allowed.numel(), keep.numel())
        keep[:size] = allowed[:size].to(logits.device)
        return logits.masked_fill(~keep, float("-inf"))

    def fallback(self, wanted: int | None) -> int:
        """The scripted backend's rule: ``wanted`` (the script's next token) when the grammar allows it; else the
        stop token when the grammar may end; else ``"``, ``}`` or ``]`` when
        allowed, closing what is open; else the allowed token with the lowest id that is not only whitespace and
        opens no tag (in byte-level vocabularies the single characters come first); else one that opens a tag;
        else the lowest allowed whitespace token. So the answer matches the grammar and, for JSON, ends as soon as
        the schema lets it, without opening an optional think block."""
        allowed = self.allowed()
        if wanted is not None and wanted < allowed.numel() and bool(allowed[wanted]):
            return wanted
        for stop in self.stop_token_ids:
            if stop < allowed.numel() and bool(allowed[stop]):
                return stop
        candidates = self.fallback_order[allowed[self.fallback_order]]
        if candidates.numel() == 0:
            raise RuntimeError("the grammar allows no token")
        return int(candidates[0].item())

    def accept(self, token: int) -> None:
        if not self.matcher.accept_token(token):
            raise RuntimeError(f"token {token} breaks the grammar")
