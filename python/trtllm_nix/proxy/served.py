"""The models this proxy serves, by the id clients send as ``model``: each with its tokenizer, chat template,
model formats (reasoning, tool calls), context length and generation backend."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from trtllm_nix.llm.backend import GenerationBackend
from trtllm_nix.llm.model_files import ChatTemplate, ModelFiles
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat

_STARTED = int(time.time())


@dataclass
class ServedModel:
    name: str
    files: ModelFiles
    template: ChatTemplate | None
    context_length: int  # the engine's max_seq_len when known (see proxy.limits), never more
    backend: GenerationBackend  # the generations, and what they can do (backend.capabilities)
    reasoning: ReasoningFormat | None  # --reasoning-parser: reasoning into reasoning_content; None: all is content
    tool_calls: ToolCallFormat | None = None  # --tool-call-parser: call markup into tool_calls; None: tools refused
    reasoning_alias: bool = False
    default_chat_template_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def takes_tools(self) -> bool:
        """Tools reach the model: its chat template describes them and a parser reads its calls back."""
        return self.tool_calls is not None and self.template is not None and self.template.describes_tools

    def card(self) -> dict[str, object]:
        return {
            "id": self.name,
            "object": "model",
            "created": _STARTED,
            "owned_by": "trtllm-nix",
            "max_model_len": self.context_length,
            "capabilities": {"guided_decoding": bool(self.backend.capabilities.guided), "tools": self.takes_tools},
        }


class ServedModels:
    def __init__(self, models: list[ServedModel]) -> None:
        if not models:
            raise ValueError("a proxy serves at least one model")
        self._by_name = {model.name: model for model in models}
        if len(self._by_name) != len(models):
            raise ValueError("served model names must be unique")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> ServedModel:
        model = self._by_name.get(name)
        if model is None:
            served = ", ".join(repr(n) for n in self._by_name)
            raise APIError(
                404,
                f"the model {name!r} does not exist; this server serves {served}",
                type_="not_found_error",
                param="model",
                code="model_not_found",
            )
        return model

    @property
    def max_context(self) -> int:
        return max(model.context_length for model in self._by_name.values())
