"""``/tokenize`` and ``/detokenize`` as vLLM names and shapes them (evaluation harnesses and client tools count
tokens with them): ``{model, prompt | messages, add_special_tokens}`` -> ``{count, max_model_len, tokens}``, and
``{model, tokens}`` -> ``{prompt}``. They need the API key, like everything that touches a model."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trtllm_nix.proxy.api_errors import bad_request
from trtllm_nix.proxy.protocol import INT32_MAX, ChatMessage, template_messages
from trtllm_nix.proxy.routes import get_state, require_api_key
from trtllm_nix.proxy.serving.checks import check_prompt_size, check_template_kwargs
from trtllm_nix.proxy.unicode_check import refuse_lone_surrogates

router = APIRouter(dependencies=[Depends(require_api_key), Depends(refuse_lone_surrogates)])


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool | None = None  # vLLM's default: true for a prompt, false for messages
    add_generation_prompt: bool = True
    tools: list[dict[str, Any]] | None = None  # rendered into the prompt as /v1/chat/completions does
    chat_template_kwargs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send either prompt or messages")
        return self


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    tokens: list[int] = Field(max_length=INT32_MAX)


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, request: Request) -> JSONResponse:
    model = get_state(request).models.get(body.model)
    files = model.files
    if body.messages is not None:
        template = model.template
        if template is None:
            raise bad_request("this model's tokenizer has no chat template; send prompt", param="messages")
        messages = template_messages(body.messages)  # the same messages /v1/chat/completions renders
        kwargs = {**model.default_chat_template_kwargs, **(body.chat_template_kwargs or {})}
        check_template_kwargs(kwargs)
        try:
            text = template.render(messages, body.tools, body.add_generation_prompt, **kwargs)
        except ValueError as error:
            raise bad_request(str(error), param="messages") from error
        special = bool(body.add_special_tokens)
    else:
        text = body.prompt or ""
        special = body.add_special_tokens is not False
    check_prompt_size(model, len(text), "prompt" if body.prompt is not None else "messages")
    encoding = await asyncio.to_thread(files.tokenizer.encode, text, add_special_tokens=special)
    tokens = list(encoding.ids)
    return JSONResponse({"count": len(tokens), "max_model_len": model.context_length, "tokens": tokens})


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, request: Request) -> JSONResponse:
    model = get_state(request).models.get(body.model)
    vocabulary = model.files.tokenizer.get_vocab_size(with_added_tokens=True)
    if any(token < 0 or token >= vocabulary for token in body.tokens):
        raise bad_request(f"tokens must be ids in [0, {vocabulary})", param="tokens")
    text = str(model.files.tokenizer.decode(body.tokens, skip_special_tokens=False))
    return JSONResponse({"prompt": text})
