"""The scripted generator keeps what its repository promises: context logits when a request asks for them."""

from __future__ import annotations

from dataclasses import replace

from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.reference.contract import GenerationRequest, Sampling
from trtllm_nix_testkit.reference.generators import ScriptedGenerator


def _request(context_logits: bool) -> GenerationRequest:
    return GenerationRequest(
        input_ids=(9707, 11, 1879),
        max_new_tokens=3,
        end_id=151645,
        pad_id=None,
        streaming=True,
        exclude_input_in_output=True,
        return_log_probs=True,
        stop_sequences=(),
        sampling=Sampling(),
        return_context_logits=context_logits,
    )


def test_context_logits_come_with_the_first_step_when_asked(assets: Assets) -> None:
    generator = ScriptedGenerator(assets.tokenizer)
    state = generator.start(_request(context_logits=True))
    first, second = generator.step(state), generator.step(state)
    assert first.context_logits is not None
    assert first.context_logits.shape[0] == 3
    assert first.context_logits.shape[1] > 151645  # every id the tokenizer knows, the end id included
    assert second.context_logits is None
    plain = generator.step(generator.start(replace(_request(context_logits=False))))
    assert plain.context_logits is None
