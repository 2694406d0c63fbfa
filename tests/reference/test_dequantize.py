"""ModelOpt NVFP4 / FP8 exports dequantized by the reference backend answer like the bf16 model they came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.reference.checkpoint import load_causal_lm, modelopt_quant_algo
from trtllm_nix_testkit.reference.dequantize import DequantizeError, dequantize_state_dict, nvfp4_weight, unpack_e2m1

from tests.real_models import ANSWER_WORD, LOGIT_PROMPTS, QUESTION


def test_e2m1_codes_unpack_low_nibble_first() -> None:
    packed = torch.tensor([[0x21, 0xF8, 0x7E]], dtype=torch.uint8)
    assert unpack_e2m1(packed).tolist() == [[0.5, 1.0, -0.0, -6.0, -4.0, 6.0]]


def test_nvfp4_block_scales_apply_per_16_elements_times_the_global_scale() -> None:
    packed = torch.full((1, 16), 0x22, dtype=torch.uint8)  # 32 elements, all 1.0
    block = torch.tensor([[2.0, 0.5]]).to(torch.float8_e4m3fn)
    weight = nvfp4_weight(packed, block, torch.tensor(3.0))
    assert weight.tolist() == [[6.0] * 16 + [1.5] * 16]


def test_wrong_block_scale_shape_is_refused_with_the_expected_shape() -> None:
    packed = torch.zeros((2, 16), dtype=torch.uint8)
    with pytest.raises(DequantizeError, match=r"block scale must be F8_E4M3 \[2, 2\]"):
        nvfp4_weight(packed, torch.zeros((2, 1)).to(torch.float8_e4m3fn), torch.tensor(1.0), "x.weight")


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(DequantizeError, match="unsupported quant_algo 'W4A16_AWQ'"):
        dequantize_state_dict({}, "W4A16_AWQ")


def test_exports_are_detected_and_the_bf16_folder_is_not(assets: Assets) -> None:
    real = assets.real
    assert [modelopt_quant_algo(p) for p in (real.smollm2, real.nvfp4, real.fp8)] == [None, "NVFP4", "FP8"]


def _answer_and_logits(model_dir: Path) -> tuple[str, list[torch.Tensor]]:
    """The greedy answer to QUESTION, and the next-token logits after each of LOGIT_PROMPTS (QUESTION first: its
    logits are the first step of the generation, so each model runs one generation and one more forward)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = load_causal_lm(model_dir, "cpu")

    def ids(question: str) -> Any:
        chat = [{"role": "user", "content": question}]
        return tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)[
            "input_ids"
        ]

    assert LOGIT_PROMPTS[0] == QUESTION
    with torch.inference_mode():
        prompt = ids(QUESTION)
        out = model.generate(
            prompt, max_new_tokens=10, do_sample=False, output_logits=True, return_dict_in_generate=True
        )
        logits = [out.logits[0][0].float()]
        logits += [model(input_ids=ids(p)).logits[0, -1].float() for p in LOGIT_PROMPTS[1:]]
    return tokenizer.decode(out.sequences[0, prompt.shape[1] :], skip_special_tokens=True), logits


@pytest.fixture(scope="module")
def bf16_reference(assets: Assets) -> tuple[str, list[torch.Tensor]]:
    return _answer_and_logits(assets.real.smollm2)


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["NVFP4", "FP8"])
def test_dequantized_export_answers_like_the_bf16_model(
    assets: Assets, bf16_reference: tuple[str, list[torch.Tensor]], quant: str
) -> None:
    reference_answer, reference_logits = bf16_reference
    answer, logits = _answer_and_logits(assets.real.export(quant))
    assert ANSWER_WORD in reference_answer
    if quant == "FP8":
        assert answer == reference_answer
    else:
        # Measured (dequantized NVFP4 export vs bf16): the same sentence token for token, but after "Paris." the
        # bf16 model ends (<|im_end|> p=0.78) while the 4-bit one goes on (" Paris" p=0.56, <|im_end|> p=0.12).
        # E2M1 weights on a 135M model move that one close call; FP8 keeps it (<|im_end|> p=0.72). So NVFP4 must
        # give the same answer, and may add words after it.
        assert answer.startswith(reference_answer), answer
    for got, want in zip(logits, reference_logits, strict=True):
        assert int(got.argmax()) == int(want.argmax())
        similarity = torch.nn.functional.cosine_similarity(got, want, dim=0).item()
        assert similarity > (0.99 if quant == "FP8" else 0.95), similarity
