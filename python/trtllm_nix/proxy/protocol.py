"""Request bodies of the OpenAI API as far as we honour them. Unknown fields are ignored, never rejected.
Integers are bounded by the int32 tensors they are sent in (nothing wraps)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trtllm_nix.llm.sampling import Sampling
from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.chat_input import ChatInput

INT32_MAX = 2**31 - 1


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Lenient):
    type: str
    text: str | None = None


class FunctionCall(_Lenient):
    name: str
    arguments: str | dict[str, Any] = ""


class ToolCall(_Lenient):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None

    def text(self) -> str | None:
        if self.content is None or isinstance(self.content, str):
            return self.content
        texts = []
        for part in self.content:
            if part.type not in ("text", "input_text"):
                raise ValueError(f"content part type {part.type!r} is not supported; send text parts")
            texts.append(part.text or "")
        return "".join(texts)


class StreamOptions(_Lenient):
    include_usage: bool = False


class SamplingFields(_Lenient):
    model: str
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=-1, le=INT32_MAX)
    seed: int | None = Field(default=None, ge=0, lt=2**64)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    repetition_penalty: float | None = Field(default=None, gt=0.0, le=10.0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)  # vLLM/SGLang: only 0 (off) here, see check_sampling
    priority: int | None = None  # vLLM/SGLang scheduling priority: only 0 here, see check_sampling
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=INT32_MAX)
    user: Any = None  # a string per OpenAI; some clients (OpenWebUI) send an object: accepted, unused
    ignore_eos: bool = False  # vLLM's extension: generate max_tokens whatever the model says (benchmarks)

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 16:
            raise ValueError("at most 16 stop strings")
        return value

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def sampling(self, max_tokens: int | None, logprobs: bool) -> Sampling:
        return Sampling(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            seed=self.seed,
            repetition_penalty=self.repetition_penalty,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            ignore_eos=self.ignore_eos,
            logprobs=logprobs,
        )


class StructuredFields(_Lenient):
    """The fields that constrain the output (proxy.structured maps them to one guide)."""

    response_format: Any = None
    guided_json: Any = None  # vLLM's extras, as vLLM accepts them
    guided_regex: Any = None
    guided_grammar: Any = None
    guided_choice: Any = None
    structured_outputs: Any = None

    def structured_body(self) -> dict[str, Any]:
        """The fields ``guided_decoding_for`` reads, as the client sent them (unset ones left out)."""
        names = ("response_format", "tools", "tool_choice", "parallel_tool_calls", *STRUCTURED_EXTRAS)
        return {name: getattr(self, name) for name in names if getattr(self, name, None) is not None}


STRUCTURED_EXTRAS = ("guided_json", "guided_regex", "guided_grammar", "guided_choice", "structured_outputs")


class ChatCompletionRequest(SamplingFields, StructuredFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    chat_template_kwargs: dict[str, Any] | None = None

    def chat_input(self) -> ChatInput:
        """The request as the chat path's preparation step takes it, its messages converted for the chat template
        (slow for many messages: run it off the loop)."""
        return ChatInput(
            messages=template_messages(self.messages),
            sampling=self.sampling(self.max_completion_tokens or self.max_tokens, self.logprobs),
            stops=self.stop_list(),
            tools=self.tools,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            template_kwargs=self.chat_template_kwargs or {},
            structured=self.structured_body(),
            min_p=self.min_p,
            priority=self.priority,
            n=self.n,
            top_logprobs=self.top_logprobs or 0,
        )


def template_messages(given: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as the chat template expects them: text content, reasoning under one name, developer as system."""
    messages = []
    for index, message in enumerate(given):
        try:
            text = message.text()
        except ValueError as error:
            raise bad_request(str(error), param=f"messages.{index}.content") from error
        item: dict[str, Any] = {"role": "system" if message.role == "developer" else message.role, "content": text}
        reasoning = message.reasoning_content if message.reasoning_content is not None else message.reasoning
        if reasoning is not None:
            item["reasoning_content"] = reasoning
        if message.tool_calls:
            item["tool_calls"] = [call.model_dump() for call in message.tool_calls]
        if message.tool_call_id:
            item["tool_call_id"] = message.tool_call_id
        if message.name:
            item["name"] = message.name
        messages.append(item)
    return messages


class CompletionRequest(SamplingFields, StructuredFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False
    suffix: str | None = None
