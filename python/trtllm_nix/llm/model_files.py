"""What the engine client reads from a model's tokenizer folder: tokenizer, chat template, end ids, sampling
defaults, and the tokenizer's own idea of the context length (the engine's limit wins: see ``limits``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from trtllm_nix.errors import UserError


@dataclass(frozen=True)
class SamplingDefaults:
    """Sampling values used when a request leaves a field out (the model's generation_config.json)."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None


@dataclass
class ModelFiles:
    tokenizer: Tokenizer
    chat_template: str | None
    eos_token_id: int
    pad_token_id: int
    end_token_ids: tuple[int, ...]
    sampling: SamplingDefaults
    context_length: int

    @classmethod
    def load(cls, folder: Path, context_length: int | None = None) -> ModelFiles:
        tokenizer_json = folder / "tokenizer.json"
        if not tokenizer_json.is_file():
            raise UserError(f"{folder} has no tokenizer.json; point --tokenizer at a Hugging Face tokenizer folder")
        tokenizer = Tokenizer.from_file(str(tokenizer_json))
        config = _read_json(folder / "tokenizer_config.json")
        generation = _read_json(folder / "generation_config.json")
        template = config.get("chat_template")
        if isinstance(template, list):  # named templates: take "default"
            template = next((t["template"] for t in template if t.get("name") == "default"), None)
        if template is None and (folder / "chat_template.jinja").is_file():
            template = (folder / "chat_template.jinja").read_text("utf-8")

        eos = _token_id(tokenizer, config.get("eos_token"))
        if eos is None:
            raise UserError(f"{folder}/tokenizer_config.json names no eos_token the tokenizer knows")
        pad = _token_id(tokenizer, config.get("pad_token"))
        generation_eos = generation.get("eos_token_id", [])
        generation_eos = generation_eos if isinstance(generation_eos, list) else [generation_eos]
        end_ids = tuple(dict.fromkeys([eos, *[int(x) for x in generation_eos]]))
        # model_max_length, unless it is transformers' placeholder for "no limit" (int(1e30))
        declared = config.get("model_max_length")
        real = int(declared) if isinstance(declared, (int, float)) and 0 < declared < 10**9 else 0
        limit = context_length or real or 4096
        return cls(
            tokenizer=tokenizer,
            chat_template=template if isinstance(template, str) else None,
            eos_token_id=eos,
            pad_token_id=pad if pad is not None else eos,
            end_token_ids=end_ids,
            sampling=SamplingDefaults(
                temperature=_float(generation.get("temperature")),
                top_p=_float(generation.get("top_p")),
                top_k=int(generation["top_k"]) if generation.get("top_k") is not None else None,
                repetition_penalty=_float(generation.get("repetition_penalty")),
            ),
            context_length=limit,
        )

    def token_id(self, text: str) -> int | None:
        """The id of ``text`` when it is one token of the vocabulary (a marker such as ``<think>``), else None."""
        return self.tokenizer.token_to_id(text)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``. ``encode_batch`` releases the GIL (``encode`` does not), so a long prompt
        tokenized in a worker thread does not freeze the event loop."""
        return list(self.tokenizer.encode_batch([text], add_special_tokens=False)[0].ids)


_TOOL_PROBE = "trtllm_nix_tool_probe"


class ChatTemplate:
    """The model's Jinja chat template, rendered the way transformers renders it (sandboxed, trim/lstrip)."""

    def __init__(self, source: str) -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        self._template = env.from_string(source)

    def render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        add_generation_prompt: bool = True,
        **kwargs: Any,
    ) -> str:
        return self._render(messages, tools, add_generation_prompt, kwargs)

    @functools.cached_property
    def describes_tools(self) -> bool:
        """Whether the template puts ``tools`` in the prompt at all (SmolLM2's, for one, has no place for them: a
        request's tools would never reach the model)."""
        probe = {"type": "function", "function": {"name": _TOOL_PROBE, "parameters": {"type": "object"}}}
        try:
            return _TOOL_PROBE in self._render([{"role": "user", "content": "hi"}], [probe], True, {})
        except ValueError:
            return False

    def generation_prompt(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, prompt: str, **kwargs: Any
    ) -> str:
        """What the template added for the answer (``prompt`` minus the rendering without the generation prompt):
        the only text that says whether the model starts inside a think block.

        A template may render earlier text differently when it adds the generation prompt, so the plain rendering
        is not always a prefix; then it is what follows their common prefix and the last message's own text. The
        messages' text is never part of it (a user's ``<think>`` must not read as the model thinking)."""
        without = self._render(messages, tools, False, kwargs)
        if prompt.startswith(without):
            return prompt[len(without) :]
        same = next((i for i, (a, b) in enumerate(zip(prompt, without, strict=False)) if a != b), len(prompt))
        added = prompt[same:]
        last = messages[-1].get("content") if messages else None
        if isinstance(last, str) and last and (at := added.rfind(last)) >= 0:
            added = added[at + len(last) :]
        return added

    def _render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, generation: bool, kwargs: Any
    ) -> str:
        try:
            return str(
                self._template.render(messages=messages, tools=tools, add_generation_prompt=generation, **kwargs)
            )
        except (TemplateError, TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
            # Real templates concatenate message fields (content: null is a TypeError): the messages' fault, a 400
            raise ValueError(f"the chat template rejected the messages: {type(error).__name__}: {error}") from error


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    ids: list[int]
    generation: str  # what the template added for the answer ("" when not asked for)


def render_chat(
    template: ChatTemplate,
    files: ModelFiles,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    kwargs: dict[str, Any],
    generation: bool,
) -> RenderedPrompt:
    """The prompt of a chat: rendered, tokenized, and (``generation``) what the template added for the answer. A
    template that rejects the messages raises ``ValueError``; run it off the event loop."""
    text = template.render(messages, tools, **kwargs)
    added = template.generation_prompt(messages, tools, text, **kwargs) if generation else ""
    return RenderedPrompt(text, files.encode(text), added)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise(message: str) -> None:
    raise TemplateError(message)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text("utf-8"))
    return data if isinstance(data, dict) else {}


def _token_id(tokenizer: Tokenizer, token: object) -> int | None:
    if isinstance(token, dict):
        token = token.get("content")
    if not isinstance(token, str):
        return None
    found = tokenizer.token_to_id(token)
    return int(found) if found is not None else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
