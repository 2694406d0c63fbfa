"""The chat template's generation prompt: what the template adds for the answer, never the messages' own text."""

from __future__ import annotations

from trtllm_nix.llm.model_files import ChatTemplate

# A template whose rendering of earlier text changes with add_generation_prompt (here a marker on the last turn),
# so the rendering without the generation prompt is not a prefix of the prompt.
SHIFTING = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}"
    "{% if loop.last and add_generation_prompt %}<|last|>{% endif %}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_the_generation_prompt_is_what_the_template_adds() -> None:
    template = ChatTemplate(
        "{% for m in messages %}{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}A: <think>{% endif %}"
    )
    messages = [{"role": "user", "content": "hello"}]
    prompt = template.render(messages, None)
    assert template.generation_prompt(messages, None, prompt) == "A: <think>"


def test_a_think_tag_in_the_users_text_is_never_taken_for_the_generation_prompt() -> None:
    """The defect: when the plain rendering was not a prefix, the last 64 characters of the prompt stood in for the
    generation prompt, so a user message ending in ``<think>`` looked like the model starting inside a think block."""
    template = ChatTemplate(SHIFTING)
    messages = [{"role": "user", "content": "tell me what <think> means <think>"}]
    prompt = template.render(messages, None)
    generation = template.generation_prompt(messages, None, prompt)
    assert "<think>" not in generation
    assert generation.endswith("<|assistant|>")
