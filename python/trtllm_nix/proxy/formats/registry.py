"""The model formats by name, registered by class (as vLLM's ``ReasoningParserManager`` and ``ToolParserManager``):
two registries chosen independently by ``--reasoning-parser`` and ``--tool-call-parser``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat

if TYPE_CHECKING:  # the CLI's argument set-up reads the names without loading tokenizer code
    from trtllm_nix.llm.model_files import ModelFiles

F = TypeVar("F", ReasoningFormat, ToolCallFormat)
AUTO_TOOL_CALLS = "hermes"  # --tool-call-parser auto: Hermes markup (read as text, so any tokenizer can emit it)


class Registry(Generic[F]):
    def __init__(self, flag: str) -> None:
        self.flag = flag
        self._classes: dict[str, type[F]] = {}

    def register(self, name: str) -> Callable[[type[F]], type[F]]:
        def add(cls: type[F]) -> type[F]:
            if name in self._classes or name in ("auto", "none"):
                raise ValueError(f"{self.flag} {name!r} is registered twice (or is auto/none)")
            self._classes[name] = cls
            cls.name = name
            return cls

        return add

    def names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def choices(self) -> tuple[str, ...]:
        """What the flag takes: ``auto``, the registered names, ``none``."""
        return ("auto", *self._classes, "none")

    def create(self, name: str) -> F:
        return self._classes[name]()


REASONING_FORMATS: Registry[ReasoningFormat] = Registry("--reasoning-parser")
TOOL_CALL_FORMATS: Registry[ToolCallFormat] = Registry("--tool-call-parser")


def reasoning_format(choice: str, files: ModelFiles) -> ReasoningFormat | None:
    """The reasoning format to run, or None. ``auto``: the first whose markers are the tokenizer's special tokens."""
    if choice == "none":
        return None
    if choice != "auto":
        return REASONING_FORMATS.create(choice)
    formats = (REASONING_FORMATS.create(name) for name in REASONING_FORMATS.names())
    return next((fmt for fmt in formats if fmt.detected(files.token_id)), None)


def tool_call_format(choice: str) -> ToolCallFormat | None:
    """The tool-call format to run, or None (requests with tools are refused). ``auto``: ``AUTO_TOOL_CALLS``."""
    if choice == "none":
        return None
    return TOOL_CALL_FORMATS.create(AUTO_TOOL_CALLS if choice == "auto" else choice)
