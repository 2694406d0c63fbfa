"""The bodies of ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``, checked strictly: nothing a client
sends is silently ignored.

Every field is honoured, accepted and ignored on purpose (``IGNORED_ON_PURPOSE``, each with its reason), or refused
with a 400 that names the field and says why (``REFUSED_BLOCKS``, server tools and Anthropic-defined tools,
``container``, ``mcp_servers``, and any field this module does not know); docs/anthropic-api.md has the table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.protocol import INT32_MAX

IGNORED_ON_PURPOSE: dict[str, str] = {
    "cache_control": "prompt caching needs no marks here: TensorRT-LLM reuses KV blocks by content; usage reports "
    "0 cache tokens",
    "context_management": "edits of the context on Anthropic's side (clearing old thinking or tool results): this "
    "server renders the messages it is sent, and Qwen3's template already drops the reasoning of earlier turns",
    "output_config.effort": "Qwen3 has no effort control; thinking is on or off (`thinking`)",
    "metadata": "`user_id` is for Anthropic's abuse monitoring; this server keeps no such records",
    "service_tier": "this server has one tier",
    "speed": "this server has one speed",
    "inference_geo": "this server runs where it runs",
    "diagnostics": "prompt-cache divergence reports need prompt fingerprints this server does not keep",
    "user_profile_id, workspace_id": "Anthropic account concepts; this server has one API key",
    "thinking.budget_tokens": "Qwen3 has a switch, not a budget: it thinks as long as it wants, bounded by "
    "`max_tokens`",
    "tools[].defer_loading": "every tool is in the prompt (no server-side tool search to load it later)",
    "tools[].input_examples": "the chat template has no place for examples",
    "tools[].eager_input_streaming": "a call's input is sent once the call is complete and checked",
    "tools[].allowed_callers, tool_use.caller": "programmatic tool calling from code execution: no code runs here",
    "text.citations": "replayed answers carry null; this server makes no citations",
    "anthropic-version, anthropic-beta headers": "one behaviour for all versions; beta features are the fields "
    "listed here",
    "system text block `x-anthropic-billing-header: ...`": "Claude Code's billing line for Anthropic, dropped: not "
    "an instruction, and it changes per version (it would break prefix reuse)",
}

REFUSED_BLOCKS: dict[str, str] = {
    "image": "this model reads text only; describe the image in text",
    "document": "this model reads text only; send the document's text as a text block",
    "search_result": "search results are not supported; send their text as a text block",
    "redacted_thinking": "this server never redacts thinking, so it cannot read redacted blocks from elsewhere; drop "
    "them",
    "server_tool_use": "this server runs no server tools",
    "web_search_tool_result": "this server runs no server tools",
    "web_fetch_tool_result": "this server runs no server tools",
    "code_execution_tool_result": "this server runs no server tools",
    "container_upload": "this server has no containers",
    "tool_reference": "this server has no tool search; every tool is in the prompt",
}
SUPPORTED_BLOCKS = "text, tool_use, tool_result, thinking"
BILLING_HEADER = "x-anthropic-billing-header:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CacheControl(_Strict):
    type: Literal["ephemeral"]
    ttl: str | None = None


class TextBlock(_Strict):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None
    citations: list[Any] | None = None  # replayed answers carry null; this server makes no citations


class ToolUseBlock(_Strict):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]
    cache_control: CacheControl | None = None
    caller: dict[str, Any] | None = None


class ToolResultBlock(_Strict):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[TextBlock] = ""
    is_error: bool | None = None
    cache_control: CacheControl | None = None

    def text(self) -> str:
        body = self.content if isinstance(self.content, str) else "".join(block.text for block in self.content)
        return f"Error: {body}" if self.is_error else body


class ThinkingBlock(_Strict):
    type: Literal["thinking"]
    thinking: str
    signature: str
    cache_control: CacheControl | None = None


Block = Annotated[TextBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock, Field(discriminator="type")]


class Message(_Strict):
    role: Literal["user", "assistant", "system"]  # Claude Code sends a system turn inside messages
    content: str | list[Block]


class CustomTool(_Strict):
    type: Literal["custom"] | None = None
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: dict[str, Any]
    strict: bool | None = None
    cache_control: CacheControl | None = None
    # ignored on purpose (IGNORED_ON_PURPOSE)
    defer_loading: bool | None = None
    input_examples: list[Any] | None = None
    eager_input_streaming: bool | None = None
    allowed_callers: list[str] | None = None


class ToolChoiceAuto(_Strict):
    type: Literal["auto"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(_Strict):
    type: Literal["any"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(_Strict):
    type: Literal["tool"]
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(_Strict):
    type: Literal["none"]


ToolChoice = Annotated[ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")]
# "summarized" (Anthropic's default), "omitted" (the signature only), "updates" (Claude Code 2.1.332 with the beta
# thinking-display-updates-2026-08-18): this server has no summarizer, so anything but "omitted" shows the thinking.
ThinkingDisplay = str


class ThinkingEnabled(_Strict):
    type: Literal["enabled"]
    budget_tokens: int | None = Field(default=None, ge=1)
    display: ThinkingDisplay | None = None


class ThinkingAdaptive(_Strict):
    type: Literal["adaptive"]
    display: ThinkingDisplay | None = None


class ThinkingDisabled(_Strict):
    type: Literal["disabled"]


Thinking = Annotated[ThinkingEnabled | ThinkingAdaptive | ThinkingDisabled, Field(discriminator="type")]


class JsonOutputFormat(_Strict):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OutputConfig(_Strict):
    effort: str | None = None  # ignored on purpose
    format: JsonOutputFormat | None = None


class Metadata(_Strict):
    user_id: str | None = None


class Conversation(_Strict):
    """What ``count_tokens`` takes, and every ``/v1/messages`` request."""

    model: str
    messages: list[Message] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[CustomTool] = Field(default_factory=list)
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    output_format: JsonOutputFormat | None = None  # the structured-outputs beta's name of output_config.format
    context_management: dict[str, Any] | None = None  # ignored on purpose
    cache_control: CacheControl | None = None  # ignored on purpose (the request-level form)

    def output_schema(self) -> dict[str, Any] | None:
        given = self.output_config.format if self.output_config and self.output_config.format else self.output_format
        return given.schema_ if given else None

    def output_param(self) -> str:
        """The field the output format came in, as errors name it."""
        given = self.output_config is not None and self.output_config.format is not None
        return "output_config.format" if given or self.output_format is None else "output_format"

    def system_text(self) -> str:
        if self.system is None:
            return ""
        if isinstance(self.system, str):
            return self.system
        return "\n\n".join(block.text for block in self.system if not block.text.startswith(BILLING_HEADER))

    def thinking_display(self) -> bool:
        """Whether thinking text is shown (``display: omitted`` sends the block with its signature only)."""
        return not isinstance(self.thinking, ThinkingEnabled | ThinkingAdaptive) or self.thinking.display != "omitted"


class MessagesRequest(Conversation):
    max_tokens: int = Field(ge=1)
    stream: bool = False
    stop_sequences: list[str] | None = Field(default=None, max_length=16)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=INT32_MAX)  # sent in an int32 tensor
    metadata: Metadata | None = None  # ignored on purpose
    service_tier: str | None = None  # ignored on purpose
    inference_geo: str | None = None  # ignored on purpose
    speed: str | None = None  # ignored on purpose
    diagnostics: dict[str, Any] | None = None  # ignored on purpose
    user_profile_id: str | None = None  # ignored on purpose
    workspace_id: str | None = None  # ignored on purpose


_REFUSED_FIELDS = {
    "container": "this server has no containers (code execution is not offered)",
    "mcp_servers": "this server connects to no MCP servers; run the MCP client on your side and send its tools as "
    "custom tools",
}


def parse_request(body: Any) -> MessagesRequest:
    """The checked ``/v1/messages`` request, or an ``APIError`` (400) that names the field and what to send."""
    return _parse(body, MessagesRequest)


def parse_count_request(body: Any) -> Conversation:
    """The checked ``/v1/messages/count_tokens`` request."""
    return _parse(body, Conversation)


_Body = TypeVar("_Body", bound=Conversation)


def _parse(body: Any, model: type[_Body]) -> _Body:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object", code="invalid_value")
    for name, reason in _REFUSED_FIELDS.items():
        if body.get(name) is not None:
            raise APIError(400, f"{name}: {reason}", param=name, code="unsupported_value")
    messages, tools = body.get("messages"), body.get("tools")
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            _check_blocks(content, f"messages.{index}.content")
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind not in (None, "custom"):
            raise APIError(
                400,
                f"tools.{index} has type {kind!r}: this server runs no server tools and offers no Anthropic-defined "
                "tool schemas; describe the tool as a custom tool with name, description and input_schema",
                param=f"tools.{index}.type",
                code="unsupported_value",
            )
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise _explain(error, body) from None


def _check_blocks(blocks: list[Any], where: str) -> None:
    """Refuse the block types this server cannot read, with the reason (pydantic would only say 'no match')."""
    for number, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        kind = kind if isinstance(kind, str) else None
        param = f"{where}.{number}"
        if kind in REFUSED_BLOCKS:
            raise APIError(
                400, f"{param}: a {kind} block: {REFUSED_BLOCKS[kind]}", param=param, code="unsupported_value"
            )
        if kind not in ("text", "tool_use", "tool_result", "thinking"):
            raise APIError(
                400,
                f"{param} has type {kind!r}; supported: {SUPPORTED_BLOCKS}",
                param=f"{param}.type",
                code="unsupported_value",
            )
        inner = block.get("content") if kind == "tool_result" else None
        if isinstance(inner, list):
            _check_blocks(inner, f"{param}.content")
            for nested_number, nested in enumerate(inner):
                if isinstance(nested, dict) and nested.get("type") != "text":
                    nested_param = f"{param}.content.{nested_number}"
                    raise APIError(
                        400,
                        f"{nested_param}: a tool result holds text blocks only here",
                        param=nested_param,
                        code="unsupported_value",
                    )


def _explain(error: ValidationError, body: dict[str, Any]) -> APIError:
    # Of a union's failed members, the one that got furthest into the value says most (a list of blocks with one
    # bad field, rather than "not a string")
    first = max(error.errors(), key=lambda e: len(e.get("loc", ())))
    path = ".".join(_client_path(body, first.get("loc", ())))
    if first.get("type") == "extra_forbidden":
        message = f"{path}: unknown field; this server does not support it, and ignores no field silently; remove it"
        return APIError(400, message, param=path, code="unknown_parameter")
    return bad_request(f"{path}: {first.get('msg', 'invalid value')}", param=path or None, code="invalid_value")


def _client_path(body: Any, loc: tuple[int | str, ...]) -> list[str]:
    """pydantic's error location as the client's path: without the union members pydantic names on the way (a
    tagged union's tag such as ``tool``, or ``str``, ``list[...]``, model names), found by walking the body."""
    node, path = body, []
    tag_seen: object = None  # the node whose tag was skipped: its next part is a field, even one named as the tag
    for part in loc:
        inside = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if isinstance(node, dict) and part == node.get("type") and tag_seen is not node:
            tag_seen = node
            continue  # a tagged union's tag
        if inside or (isinstance(node, dict) and part in node):
            node = node[part]
        elif isinstance(part, str) and (part[:1].isupper() or "[" in part or part in ("str", "int", "dict")):
            continue  # a union member's name
        else:
            node = None  # a missing field: the rest of the path names it
        path.append(str(part))
    return path
