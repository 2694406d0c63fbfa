"""The proxy's settings, read in one place: command-line flags, each with a ``TRTLLM_NIX_PROXY_*`` variable."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtllm_nix.errors import UserError

ENV_PREFIX = "TRTLLM_NIX_PROXY_"


@dataclass(frozen=True)
class ProxySettings:
    tokenizer: Path
    triton: str = "127.0.0.1:8001"
    triton_model: str = "tensorrt_llm"
    model_name: str = "qwen3"
    host: str = "127.0.0.1"
    port: int = 9000
    max_model_len: int | None = None
    api_key: str | None = field(default=None, repr=False)
    max_in_flight: int = 256
    cors_origins: tuple[str, ...] = ()
    default_chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    keepalive_seconds: float = 15.0
    max_body_bytes: int = 8 * 1024 * 1024
    request_timeout: float = 600.0
    log_prompts: bool = False
    reasoning_parser: str = "auto"  # auto: qwen3 when the tokenizer has <think> and </think>; or qwen3, none
    reasoning_alias: bool = False  # also send reasoning as `reasoning` (vLLM's newer name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    arg = parser.add_argument
    arg(
        "--tokenizer",
        type=Path,
        default=_env(env, "TOKENIZER"),
        help="tokenizer folder (tokenizer.json, chat template)",
    )
    arg(
        "--triton",
        action="append",
        default=None,
        help="Triton gRPC address host:port; repeat (or comma-separate) for several upstreams",
    )
    arg("--triton-model", default=_env(env, "TRITON_MODEL", "tensorrt_llm"), help="Triton model to send token ids to")
    arg("--model-name", default=_env(env, "MODEL_NAME", "qwen3"), help="model id served at /v1/models")
    arg("--host", default=_env(env, "HOST", "127.0.0.1"), help="listen address (loopback by default)")
    arg("--port", type=int, default=int(_env(env, "PORT", "9000") or 9000), help="listen port")
    arg("--max-model-len", type=int, default=_int(_env(env, "MAX_MODEL_LEN")), help="context length (prompt + output)")
    arg(
        "--api-key-file",
        type=Path,
        default=_env(env, "API_KEY_FILE"),
        help="file holding the API key clients must send",
    )
    arg("--max-in-flight", type=int, default=int(_env(env, "MAX_IN_FLIGHT", "256") or 256), help="429 past this many")
    arg("--cors-origin", action="append", default=None, help="allowed CORS origin (repeatable)")
    arg(
        "--default-chat-template-kwargs",
        default=_env(env, "DEFAULT_CHAT_TEMPLATE_KWARGS", "{}"),
        help='JSON object, e.g. {"enable_thinking": false}',
    )
    arg("--keepalive-seconds", type=float, default=float(_env(env, "KEEPALIVE_SECONDS", "15") or 15))
    arg(
        "--max-body-bytes",
        type=int,
        default=int(_env(env, "MAX_BODY_BYTES", str(8 << 20)) or 8 << 20),
        help="413 for request bodies larger than this",
    )
    arg(
        "--request-timeout",
        type=float,
        default=float(_env(env, "REQUEST_TIMEOUT", "600") or 600),
        help="seconds a generation may take before it is cancelled with 504",
    )
    arg("--log-prompts", action="store_true", default=_env(env, "LOG_PROMPTS") == "1")
    arg(
        "--reasoning-parser",
        choices=("auto", "qwen3", "none"),
        default=_env(env, "REASONING_PARSER", "auto"),
        help="split <think> reasoning into reasoning_content (auto: when the tokenizer has the tags)",
    )
    arg(
        "--reasoning-alias",
        action="store_true",
        default=_env(env, "REASONING_ALIAS") == "1",
        help="also send reasoning under the name `reasoning`",
    )


def from_namespace(ns: argparse.Namespace, env: Mapping[str, str] | None = None) -> ProxySettings:
    env = os.environ if env is None else env
    if ns.tokenizer is None:
        raise UserError("--tokenizer is required (or set TRTLLM_NIX_PROXY_TOKENIZER)")
    try:
        template_kwargs = json.loads(ns.default_chat_template_kwargs)
    except json.JSONDecodeError as error:
        raise UserError(f"--default-chat-template-kwargs is not JSON: {error.msg}") from error
    if not isinstance(template_kwargs, dict):
        raise UserError("--default-chat-template-kwargs must be a JSON object")
    api_key = env.get(ENV_PREFIX + "API_KEY") or None
    if ns.api_key_file is not None:
        try:
            api_key = Path(ns.api_key_file).read_text("utf-8").strip()
        except OSError as error:
            raise UserError(f"cannot read --api-key-file {ns.api_key_file}: {error.strerror}") from error
        if not api_key:
            raise UserError(f"--api-key-file {ns.api_key_file} is empty")
    if ns.max_in_flight < 1:
        raise UserError("--max-in-flight must be at least 1")
    origins = tuple(ns.cors_origin or [o for o in (env.get(ENV_PREFIX + "CORS_ORIGINS") or "").split(",") if o])
    upstreams = ",".join(ns.triton or [env.get(ENV_PREFIX + "TRITON") or "127.0.0.1:8001"])
    return ProxySettings(
        tokenizer=Path(ns.tokenizer),
        triton=upstreams,
        triton_model=ns.triton_model,
        model_name=ns.model_name,
        host=ns.host,
        port=ns.port,
        max_model_len=ns.max_model_len,
        api_key=api_key,
        max_in_flight=ns.max_in_flight,
        cors_origins=origins,
        default_chat_template_kwargs=template_kwargs,
        keepalive_seconds=ns.keepalive_seconds,
        max_body_bytes=ns.max_body_bytes,
        request_timeout=ns.request_timeout,
        log_prompts=ns.log_prompts,
        reasoning_parser=ns.reasoning_parser,
        reasoning_alias=ns.reasoning_alias,
    )


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    return env.get(ENV_PREFIX + name, default)


def _int(value: str | None) -> int | None:
    return int(value) if value else None
