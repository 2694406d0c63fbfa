"""From an OpenAI request to what Triton needs: the rendered prompt's ids, limits and sampling values."""

from __future__ import annotations

from typing import Any

from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.chat_output import ToolMode
from trtllm_nix.proxy.schemas import ChatCompletionRequest, SamplingFields
from trtllm_nix.proxy.state import ProxyState
from trtllm_nix.proxy.upstream import UpstreamRequest


def chat_messages(body: ChatCompletionRequest) -> list[dict[str, Any]]:
    """Messages as the chat template expects them: text content, reasoning under one name, developer as system."""
    messages = []
    for index, message in enumerate(body.messages):
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


def tool_mode(body: ChatCompletionRequest) -> ToolMode:
    """How tool calls in the answer are handled: parsed (auto), dropped with their markup (none), or not looked
    for (no tools). Forcing a call needs constrained decoding, which the engine path here does not offer."""
    choice = body.tool_choice
    if not body.tools:
        if choice not in (None, "none", "auto"):
            raise bad_request("tool_choice needs tools", param="tool_choice")
        return "off"
    if choice is None or choice == "auto":
        return "parse"
    if choice == "none":
        return "drop"
    if choice == "required" or isinstance(choice, dict):
        raise bad_request(
            "tool_choice 'required' or a named function needs constrained decoding, which this server does not "
            "offer; send tool_choice 'auto' (the model decides) or 'none'",
            param="tool_choice",
            code="unsupported_value",
        )
    raise bad_request(
        f"tool_choice must be 'auto', 'none', 'required' or a function, got {choice!r}", param="tool_choice"
    )


def render_chat(state: ProxyState, body: ChatCompletionRequest) -> tuple[str, dict[str, Any]]:
    if state.template is None:
        raise bad_request("this model's tokenizer has no chat template; use /v1/completions")
    kwargs = {**state.settings.default_chat_template_kwargs, **(body.chat_template_kwargs or {})}
    reserved = {"messages", "tools", "add_generation_prompt"} & kwargs.keys()
    if reserved:
        raise bad_request(f"chat_template_kwargs may not set {sorted(reserved)}", param="chat_template_kwargs")
    tools = body.tools if tool_mode(body) != "drop" else None
    try:
        prompt = state.template.render(chat_messages(body), tools, **kwargs)
    except ValueError as error:
        raise bad_request(str(error), param="messages") from error
    return prompt, kwargs


def upstream_request(
    state: ProxyState, body: SamplingFields, prompt_ids: list[int], requested_max: int | None, want_logprobs: bool
) -> UpstreamRequest:
    files = state.files
    if body.n != 1:
        raise bad_request(
            "n must be 1: this server returns one choice per request", param="n", code="unsupported_value"
        )
    context = state.settings.max_model_len or files.context_length
    room = context - len(prompt_ids)
    if room < 1:
        raise bad_request(
            f"the prompt has {len(prompt_ids)} tokens, which leaves no room in the {context}-token context",
            param="messages",
            code="context_length_exceeded",
        )
    if requested_max is not None and requested_max > room:
        raise bad_request(
            f"max_tokens is {requested_max} but the {len(prompt_ids)}-token prompt leaves room for {room} "
            f"in the {context}-token context",
            param="max_tokens",
            code="context_length_exceeded",
        )
    defaults = files.sampling
    temperature = body.temperature if body.temperature is not None else defaults.temperature
    top_p = body.top_p if body.top_p is not None else defaults.top_p
    top_k = body.top_k if body.top_k is not None else defaults.top_k
    if top_k is not None and top_k < 1:
        top_k = 0  # -1 and 0 both mean "no top-k"
    if temperature == 0.0:  # greedy, exactly: TensorRT-LLM's way to say it is top_k = 1
        temperature, top_p, top_k = None, None, 1
    repetition = body.repetition_penalty if body.repetition_penalty is not None else defaults.repetition_penalty
    return UpstreamRequest(
        input_ids=prompt_ids,
        max_new_tokens=requested_max or room,
        end_id=-1 if body.ignore_eos else files.eos_token_id,
        pad_id=files.pad_token_id,
        stop_token_sequences=[] if body.ignore_eos else [[t] for t in files.end_token_ids if t != files.eos_token_id],
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=body.seed,
        repetition_penalty=repetition,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        return_log_probs=want_logprobs,
    )
