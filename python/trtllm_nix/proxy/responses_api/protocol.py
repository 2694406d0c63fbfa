"""The body of ``POST /v1/responses``, checked strictly: nothing a client sends is silently ignored
(docs/responses-api.md has the table). Every top-level field falls in one of three groups:

- honoured: the fields of ``ResponsesRequest`` before the ignored ones (``tools`` by the rule below), including
  the sampling extensions vLLM and SGLang accept, as on chat (``min_p`` and ``priority`` only at 0: the chat path
  refuses other values by name);
- accepted and ignored on purpose (``IGNORED_ON_PURPOSE``, each with its reason): they change nothing a user could
  see from this server, so refusing them would only break clients (Codex, openai-agents) that always send them;
- refused with a 400 that names the field and says what to send: any other field, and values this server cannot
  honour (``background: true``, ``truncation: "auto"``, ``top_logprobs > 0``, tools whose calls are not function
  calls, images, ...).

Tools, by who runs them:

- the client runs it and gets a ``function_call`` item: ``function``, and ``namespace`` (a named group of function
  tools; the model sees each as ``<namespace>.<name>``, its call comes back with ``name`` and ``namespace``): given
  to the model;
- OpenAI's servers run it (``HOSTED_TOOL_TYPES``: ``web_search``, ``file_search``, ``code_interpreter``, ``mcp``,
  ``image_generation``, ``tool_search``, ...): this server runs none, so the model is not offered it. The request is
  served without it, the response echoes it in ``tools`` and its ``x-trtllm-nix-skipped-tools`` header names it.
  Refusing instead would refuse every Codex CLI request (it sends ``web_search`` unasked); forcing one with
  ``tool_choice`` is refused;
- the client runs it but the call is an item of its own (``custom``, ``shell``, ``local_shell``, ``apply_patch``,
  ``computer``, ``computer_use_preview``): refused, since the model's calls come back as ``function_call`` items only.
"""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trtllm_nix.proxy.api_errors import APIError, bad_request

IGNORED_ON_PURPOSE: dict[str, str] = {
    "user": "an end-user id for the provider's abuse monitoring; this server keeps no such records",
    "safety_identifier": "as `user`",
    "prompt_cache_key": "prefix caching needs no key here: TensorRT-LLM reuses KV blocks by content",
    "prompt_cache_retention": "as `prompt_cache_key`",
    "service_tier": "this server has one tier; the response reports `default`",
    "stream_options": "only `include_obfuscation` exists, padding against length side channels on the internet",
    "include": "`reasoning.encrypted_content`: reasoning comes back as plain text in `content` instead; entries for "
    "hosted-tool outputs name items this server never produces (`message.output_text.logprobs` is refused)",
    "truncation": "`disabled` (the default) is what this server does: an input too long for the context is a 400",
    "text.verbosity": "Qwen3 has no verbosity control; the answer is the model's own length",
    "client_metadata": "the client's own telemetry for its provider (Codex CLI sends its turn ids); nothing to serve",
}

HostedToolType = Literal[
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "code_interpreter",
    "image_generation",
    "mcp",
    "tool_search",
    "programmatic_tool_calling",
]
HOSTED_TOOL_TYPES = frozenset(get_args(HostedToolType))
"""Tools that OpenAI's servers run for the model. This server runs none of them: they are skipped (module doc)."""
SKIPPED_TOOLS_HEADER = "x-trtllm-nix-skipped-tools"  # the hosted tools' types, in request order

_REFUSED_INCLUDES = {"message.output_text.logprobs": "logprobs are not offered on /v1/responses yet; omit it"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- input items -------------------------------------------------------------------------------------------------


class TextPart(_Strict):
    """``input_text`` (user, system, developer) or ``output_text`` (assistant turns replayed by the client)."""

    type: Literal["input_text", "output_text"]
    text: str
    annotations: list[Any] | None = None  # sent back by SDKs replaying an output message; nothing to use in them
    logprobs: list[Any] | None = None


def _joined(content: str | list[TextPart]) -> str:
    return content if isinstance(content, str) else "".join(part.text for part in content)


class MessageItem(_Strict):
    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[TextPart]
    id: str | None = None
    status: str | None = None
    phase: str | None = None

    def text(self) -> str:
        return _joined(self.content)


class FunctionCallItem(_Strict):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    namespace: str | None = None
    id: str | None = None
    status: str | None = None

    def qualified_name(self) -> str:
        """The name the model knows the function by (``<namespace>.<name>`` inside a namespace)."""
        return qualified(self.namespace, self.name)


class FunctionCallOutputItem(_Strict):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[TextPart]
    name: str | None = None  # the call's, repeated by some clients; call_id is what links the two
    namespace: str | None = None
    id: str | None = None
    status: str | None = None

    def text(self) -> str:
        return _joined(self.output)


class ReasoningTextPart(_Strict):
    type: Literal["reasoning_text", "summary_text"]
    text: str


class ReasoningItem(_Strict):
    type: Literal["reasoning"]
    id: str | None = None
    summary: list[ReasoningTextPart] = Field(default_factory=list)
    content: list[ReasoningTextPart] | None = None
    encrypted_content: str | None = None
    status: str | None = None

    def text(self) -> str:
        """The reasoning itself when the client sent it back, else its summary (here the same text)."""
        parts = self.content if self.content else self.summary
        return "".join(part.text for part in parts)


class ItemReference(_Strict):
    """An item of a stored response, named by its id (the Vercel AI SDK sends earlier reasoning this way);
    ``store.resolve_references`` replaces it by the item before translation."""

    type: Literal["item_reference"]
    id: str


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem | ItemReference
_ITEM_MODELS: dict[str, type[BaseModel]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
    "reasoning": ReasoningItem,
    "item_reference": ItemReference,
}
_MEDIA_PARTS = {"input_image", "input_file", "input_audio"}


# ---- tools, formats, reasoning -----------------------------------------------------------------------------------


def qualified(namespace: str | None, name: str) -> str:
    return f"{namespace}.{name}" if namespace else name


class FunctionTool(_Strict):
    type: Literal["function"]
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamespaceTool(_Strict):
    """Function tools under one name; the model sees ``<namespace>.<function>`` with both descriptions."""

    type: Literal["namespace"]
    name: str = Field(min_length=1)
    description: str  # required, as OpenAI's
    tools: list[FunctionTool]


class HostedTool(BaseModel):
    """A tool that OpenAI's servers would run (``HOSTED_TOOL_TYPES``): kept to be echoed, never offered."""

    model_config = ConfigDict(extra="allow")
    type: HostedToolType


def offered_functions(
    tools: list[FunctionTool | NamespaceTool | HostedTool],
) -> list[tuple[str, str | None, FunctionTool]]:
    """The functions the model is offered, in order: ``(the name it knows it by, namespace, tool)``."""
    offered: list[tuple[str, str | None, FunctionTool]] = []
    for tool in tools:
        if isinstance(tool, FunctionTool):
            offered.append((tool.name, None, tool))
        elif isinstance(tool, NamespaceTool):
            offered.extend((qualified(tool.name, member.name), tool.name, member) for member in tool.tools)
    return offered


class FunctionChoice(_Strict):
    type: Literal["function"]
    name: str


class TextFormatPlain(_Strict):
    type: Literal["text"]


class TextFormatJsonObject(_Strict):
    type: Literal["json_object"]


class TextFormatJsonSchema(_Strict):
    type: Literal["json_schema"]
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


TextFormat = TextFormatPlain | TextFormatJsonObject | TextFormatJsonSchema


class TextConfig(_Strict):
    format: TextFormat | None = Field(default=None, discriminator="type")
    verbosity: Literal["low", "medium", "high"] | None = None  # ignored on purpose (IGNORED_ON_PURPOSE)


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class ReasoningConfig(_Strict):
    effort: ReasoningEffort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None  # the deprecated name of `summary`

    def wants_summary(self) -> bool:
        return (self.summary or self.generate_summary) is not None


# ---- the request -------------------------------------------------------------------------------------------------


class ResponsesRequest(_Strict):
    model: str
    input: str | list[InputItem] = ""
    instructions: str | None = None
    tools: list[FunctionTool | NamespaceTool | HostedTool] = Field(default_factory=list)
    tool_choice: Literal["auto", "none", "required"] | FunctionChoice = "auto"
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    # vLLM's and SGLang's sampling extensions (SMG adds the first four to every body): as on chat
    top_k: int | None = Field(default=None, ge=-1, le=2**31 - 1)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(default=None, gt=0.0, le=10.0)
    priority: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = Field(default=None, ge=0, lt=2**64)
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    stream: bool = False
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    store: bool = True  # OpenAI's default
    previous_response_id: str | None = None
    # accepted and ignored on purpose (IGNORED_ON_PURPOSE says why)
    client_metadata: dict[str, Any] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None
    include: list[str] | None = None
    truncation: Literal["disabled"] | None = None
    # accepted only at the value that means "off"
    background: Literal[False] | None = None
    top_logprobs: Literal[0] | None = None
    max_tool_calls: None = None

    def functions(self) -> dict[str, tuple[str | None, FunctionTool]]:
        """The functions the model is offered, by the name it knows each by: ``{name: (namespace, tool)}``."""
        return {name: (namespace, tool) for name, namespace, tool in offered_functions(self.tools)}

    def wants_summary(self) -> bool:
        return self.reasoning is not None and self.reasoning.wants_summary()

    def skipped_tools(self) -> list[str]:
        """The types of the hosted tools in ``tools``, which the model is not offered (module doc)."""
        return [tool.type for tool in self.tools if isinstance(tool, HostedTool)]


_VALUE_HINTS = {
    "truncation": "only 'disabled' is supported: an input too long for the context is refused, never cut",
    "background": "background responses are not supported; send the request and wait, or stream it",
    "top_logprobs": "logprobs are not offered on /v1/responses yet; omit top_logprobs",
    "max_tool_calls": "max_tool_calls is not supported; omit it",
    "tool_choice": "send 'auto', 'none', 'required' or {'type': 'function', 'name': ...}; hosted-tool choices and "
    "allowed_tools are not supported",
}


def parse_request(body: Any) -> ResponsesRequest:
    """The checked request, or an ``APIError`` (400) whose message names the field and what to send."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object", code="invalid_value")
    raw = dict(body)
    items = raw.get("input")
    if isinstance(items, list):
        raw["input"] = [parse_item(index, item) for index, item in enumerate(items)]
    tools = raw.get("tools")
    if isinstance(tools, list):
        raw["tools"] = [_tool(f"tools[{index}]", tool) for index, tool in enumerate(tools)]
    for entry in raw.get("include") or []:
        if entry in _REFUSED_INCLUDES:
            raise APIError(400, _REFUSED_INCLUDES[entry], param="include", code="unsupported_value")
    try:
        request = ResponsesRequest.model_validate(raw)
    except ValidationError as error:
        raise _explain(error) from None
    offered = [name for name, _, _ in offered_functions(request.tools)]
    twice = sorted({name for name in offered if offered.count(name) > 1})
    if twice:
        raise bad_request(
            f"tools offer the function {twice[0]!r} twice; give each function its own name", param="tools"
        )
    return request


def _tool(param: str, tool: Any) -> FunctionTool | NamespaceTool | HostedTool:
    """One ``tools`` entry by the rule of the module doc (which tools are offered, skipped or refused)."""
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind in HOSTED_TOOL_TYPES:
        return HostedTool.model_validate(tool)
    if kind == "namespace":
        for number, member in enumerate(tool.get("tools") or []):
            member_kind = member.get("type") if isinstance(member, dict) else None
            if member_kind != "function":
                raise _unofferable(f"{param}.tools[{number}]", member_kind)
        model: type[FunctionTool | NamespaceTool] = NamespaceTool
    elif kind == "function":
        model = FunctionTool
    else:
        raise _unofferable(param, kind)
    try:
        return model.model_validate(tool)
    except ValidationError as error:
        raise _explain(error, prefix=param) from None


def _unofferable(param: str, kind: object) -> APIError:
    return APIError(
        400,
        f"{param} has type {kind!r}: this server offers the model tools whose calls come back as function_call "
        "items (type 'function', or 'namespace' of functions); describe it as a function tool or remove it",
        param=f"{param}.type",
        code="unsupported_value",
    )


def parse_item(index: int, item: Any) -> InputItem:
    """``input[index]``, checked; a 400 naming it (and what is supported) when it cannot be served."""
    param = f"input[{index}]"
    if not isinstance(item, dict):
        raise bad_request(f"{param} must be an object (a message or an item)", param=param)
    kind = item.get("type", "message" if "role" in item else None)
    model = _ITEM_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise APIError(
            400,
            f"{param} has type {kind!r}; supported: message, function_call, function_call_output, reasoning, "
            "item_reference",
            param=f"{param}.type",
            code="unsupported_value",
        )
    content = item.get("content") if kind == "message" else item.get("output")
    if isinstance(content, list):
        for number, part in enumerate(content):
            part_type = part.get("type") if isinstance(part, dict) else None
            if part_type in _MEDIA_PARTS:
                raise APIError(
                    400,
                    f"{param} has a {part_type} part: this model reads text only; send input_text parts",
                    param=f"{param}.content[{number}]",
                    code="unsupported_value",
                )
    try:
        return cast(InputItem, model.model_validate(item))
    except ValidationError as error:
        raise _explain(error, prefix=param) from None


def _explain(error: ValidationError, prefix: str = "") -> APIError:
    first = error.errors()[0]
    where = [str(part) for part in first.get("loc", ())]
    # pydantic names union members in the location (e.g. "FunctionChoice", "str"); they mean nothing to a client
    where = [part for part in where if not part[:1].isupper() and not any(c in part for c in "[]'-") and part != "str"]
    path = ".".join([prefix, *where] if prefix else where)
    for part in where:
        if part.isdigit():
            path = path.replace(f".{part}", f"[{part}]", 1)
    field = where[0] if where else ""
    if not prefix and field in _VALUE_HINTS:
        path = field
    if first.get("type") == "extra_forbidden":
        message = f"unknown field {path!r}: this server does not support it, and ignores no field silently; remove it"
        return APIError(400, message, param=path, code="unknown_parameter")
    if not prefix and field in _VALUE_HINTS:
        return APIError(400, f"{path}: {_VALUE_HINTS[field]}", param=path, code="unsupported_value")
    return bad_request(f"{path}: {first.get('msg', 'invalid value')}", param=path or None, code="invalid_value")
