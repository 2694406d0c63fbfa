"""The tokenizer-info file loads in xgrammar exactly as xgrammar's own TokenizerInfo from the HF tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import xgrammar
from transformers import AutoTokenizer
from trtllm_nix.repo.tokenizer_info import tokenizer_info, tokenizer_info_text
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.reference.guided import tokenizer_info_from_json

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 20},
        "kind": {"enum": ["town", "village", "城市"]},
        "tags": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["city", "kind", "tags"],
}
DOCUMENT = '{"city": "Zürich 世界", "kind": "城市", "tags": [1, 23]}'


def _masks(info: object, text: str, ids: list[int]) -> list[torch.Tensor]:
    compiled = xgrammar.GrammarCompiler(info).compile_json_schema(json.dumps(SCHEMA))
    matcher = xgrammar.GrammarMatcher(compiled)
    bitmask = xgrammar.allocate_token_bitmask(1, 151936)
    masks = []
    for token in [*ids, 151645]:
        matcher.fill_next_token_bitmask(bitmask)
        masks.append(bitmask.clone())
        assert matcher.accept_token(token), text
    assert matcher.is_terminated()
    return masks


def test_the_file_has_what_tensorrt_llm_writes(assets: Assets) -> None:
    info = json.loads(tokenizer_info_text(assets.tokenizer))
    hf = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    assert set(info) == {"encoded_vocab", "tokenizer_str", "stop_token_ids"}
    assert info["encoded_vocab"] == [token for token, _ in sorted(hf.get_vocab().items(), key=lambda kv: kv[1])]
    assert info["stop_token_ids"] == [hf.eos_token_id] == [151645]
    assert json.loads(info["tokenizer_str"])["decoder"] == json.loads(hf.backend_tokenizer.to_str())["decoder"]


def test_masks_are_identical_to_xgrammars_own_tokenizer_info(assets: Assets) -> None:
    hf = AutoTokenizer.from_pretrained(str(assets.tokenizer))
    ids = hf.encode(DOCUMENT, add_special_tokens=False)
    ours = tokenizer_info_from_json(tokenizer_info(assets.tokenizer), 151936)
    theirs = xgrammar.TokenizerInfo.from_huggingface(hf, vocab_size=151936, stop_token_ids=[151645])
    assert ours.vocab_type == theirs.vocab_type == xgrammar.VocabType.BYTE_LEVEL
    assert ours.add_prefix_space == theirs.add_prefix_space
    ours_masks, their_masks = _masks(ours, DOCUMENT, ids), _masks(theirs, DOCUMENT, ids)
    assert len(ours_masks) == len(ids) + 1
    for step, (mine, upstream) in enumerate(zip(ours_masks, their_masks, strict=True)):
        assert torch.equal(mine, upstream), f"masks differ at step {step}"


def test_a_tokenizer_without_an_eos_token_is_refused(assets: Assets, tmp_path: Path) -> None:
    from trtllm_nix.errors import UserError

    folder = tmp_path
    (folder / "tokenizer.json").write_bytes((assets.tokenizer / "tokenizer.json").read_bytes())
    (folder / "tokenizer_config.json").write_text("{}")
    with pytest.raises(UserError, match="no eos_token"):
        tokenizer_info(folder)
