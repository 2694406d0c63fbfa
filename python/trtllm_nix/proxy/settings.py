"""The proxy's settings, read in one place: command-line flags, each with a ``TRTLLM_NIX_PROXY_*`` variable.

Flags are registered without reading the environment (so a malformed variable cannot break other subcommands);
``from_namespace`` reads flags, then variables, and refuses a bad value with one line that names it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from trtllm_nix.errors import UserError
from trtllm_nix.llm.upstream_address import UpstreamAddress, parse_upstream
from trtllm_nix.proxy.formats.registry import REASONING_FORMATS, TOOL_CALL_FORMATS

REASONING_CHOICES = REASONING_FORMATS.choices()
TOOL_CALL_CHOICES = TOOL_CALL_FORMATS.choices()


def _one_of(names: tuple[str, ...]) -> str:
    return f"{', '.join(names[:-1])} or {names[-1]}"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


ENV_PREFIX = "TRTLLM_NIX_PROXY_"
T = TypeVar("T")


@dataclass(frozen=True)
class ModelSpec:
    """One more model behind the same proxy (``--served-model``): its own tokenizer, upstreams and limits."""

    name: str
    tokenizer: Path
    triton: str
    triton_model: str = "tensorrt_llm"
    model_repository: Path | None = None
    max_model_len: int | None = None
    upstream: UpstreamAddress | None = None  # a TrtllmService (the PyTorch lane) in place of `triton`


_SPEC_KEYS = {"tokenizer", "triton", "triton-model", "repository", "max-model-len", "upstream"}
_TRITON_KEYS = ("triton", "triton-model", "repository")


def parse_model_spec(text: str) -> ModelSpec:
    """``NAME:tokenizer=DIR,triton=HOST:PORT[+HOST:PORT],triton-model=M,repository=DIR,max-model-len=N``, or with
    ``upstream=grpc-trtllm://HOST:PORT[+HOST:PORT][?guided_decoding=xgrammar]`` in place of the Triton keys."""
    name, _, rest = text.partition(":")
    fields: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in _SPEC_KEYS:
            raise UserError(f"--served-model {text!r}: {item!r} is not one of {', '.join(sorted(_SPEC_KEYS))}=VALUE")
        fields[key] = value
    upstream = parse_upstream(fields["upstream"].replace("+", ",")) if "upstream" in fields else None
    if upstream is not None and any(key in fields for key in _TRITON_KEYS):
        raise UserError(
            f"--served-model {text!r}: upstream= replaces {', '.join(_TRITON_KEYS)}=; give one or the other"
        )
    if not name or "tokenizer" not in fields or ("triton" not in fields and upstream is None):
        raise UserError(
            f"--served-model {text!r} needs NAME:tokenizer=DIR,triton=HOST:PORT or NAME:tokenizer=DIR,upstream=URL"
        )
    try:
        max_len = int(fields["max-model-len"]) if "max-model-len" in fields else None
    except ValueError:
        raise UserError(f"--served-model {text!r}: max-model-len must be an integer") from None
    return ModelSpec(
        name=name,
        tokenizer=Path(fields["tokenizer"]),
        triton=fields.get("triton", "").replace("+", ","),
        triton_model=fields.get("triton-model", "tensorrt_llm"),
        model_repository=Path(fields["repository"]) if "repository" in fields else None,
        max_model_len=max_len,
        upstream=upstream,
    )


@dataclass(frozen=True)
class ProxySettings:
    tokenizer: Path
    triton: str = "127.0.0.1:8001"
    triton_model: str = "tensorrt_llm"
    model_name: str = "qwen3"
    host: str = "127.0.0.1"
    port: int = 9000
    max_model_len: int | None = None
    model_repository: Path | None = None  # its manifest gives the engine's max_seq_len
    api_key: str | None = field(default=None, repr=False)
    max_in_flight: int = 256  # generations (a request with n choices counts n)
    max_choices: int = 128  # generations one request may ask for (chat n, completions prompts x n)
    cors_origins: tuple[str, ...] = ()
    default_chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    keepalive_seconds: float = 15.0
    stall_timeout: float = 30.0  # a stream nothing could be delivered of for this long is cut off
    max_body_bytes: int | None = None  # None: sized to the context (see body_limit)
    request_timeout: float = 600.0
    log_prompts: bool = False
    reasoning_parser: str = "auto"  # auto: the first format whose markers are tokens (qwen3: <think>); a name; none
    tool_call_parser: str = "auto"  # auto: hermes; a name in formats.registry; none: requests with tools refused
    reasoning_alias: bool = False  # also send reasoning as `reasoning` (vLLM's newer name)
    workers: int = 1
    state_dir: Path | None = None  # the Responses store's database; None: in memory, one process (tests)
    # PostgreSQL URL of the Responses store shared by proxies on several hosts; None: SQLite in state_dir. Not in
    # the repr: it may hold a password
    responses_store: str | None = field(default=None, repr=False)
    responses_store_bytes: int = 256 << 20
    responses_store_ttl: float = 86_400.0
    extra_models: tuple[ModelSpec, ...] = ()  # served beside model_name, each with its own files and upstreams
    # Signs /v1/messages thinking blocks when there is no api_key (messages_api.signing); made once per start, so
    # --workers share it through the pickled settings.
    signing_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False, compare=False)
    header_timeout: float = 10.0  # seconds to send a request's headers (proxy.http_limits)
    body_timeout: float = 60.0  # seconds to send its body, after the headers
    max_connections: int = 1000  # open connections; past it a new one gets 503 and is closed
    public_metrics: bool = False  # /metrics without the API key (when one is set)
    upstream: UpstreamAddress | None = None  # --upstream grpc-trtllm://...: the main model's TrtllmService servers
    upstream_wait: float = 300.0  # seconds to wait at start for a TrtllmService's GetModelInfo (a model loads)

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.port <= 65535, f"--port must be in 1..65535, got {self.port}"),
            (self.max_in_flight >= 1, "--max-in-flight must be at least 1"),
            (self.max_choices >= 1, "--max-choices must be at least 1"),
            (self.keepalive_seconds >= 0.01, "--keepalive-seconds must be at least 0.01"),
            (self.stall_timeout > 0, "--stall-timeout must be more than 0 seconds"),
            (self.request_timeout > 0, "--request-timeout must be more than 0 seconds"),
            (self.max_body_bytes is None or self.max_body_bytes >= 1024, "--max-body-bytes must be at least 1024"),
            (self.max_model_len is None or self.max_model_len >= 2, "--max-model-len must be at least 2"),
            (self.reasoning_parser in REASONING_CHOICES, f"--reasoning-parser must be {_one_of(REASONING_CHOICES)}"),
            (self.tool_call_parser in TOOL_CALL_CHOICES, f"--tool-call-parser must be {_one_of(TOOL_CALL_CHOICES)}"),
            (self.workers >= 1, "--workers must be at least 1"),
            (self.upstream_wait > 0, "--upstream-wait must be more than 0 seconds"),
            (self.header_timeout > 0, "--header-timeout must be more than 0 seconds"),
            (self.body_timeout > 0, "--body-timeout must be more than 0 seconds"),
            (self.max_connections >= 1, "--max-connections must be at least 1"),
            (
                self.workers == 1 or self.state_dir is not None or self.responses_store is not None,
                "--workers above 1 needs --state-dir: the Responses API's stored responses must be shared",
            ),
            (
                self.responses_store is None or self.responses_store.startswith(("postgresql://", "postgres://")),
                "--responses-store must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DB); leave it out for "
                "SQLite in --state-dir",
            ),
            (self.responses_store_bytes >= 1024, "--responses-store-bytes must be at least 1024"),
            (self.responses_store_ttl > 0, "--responses-store-ttl must be more than 0 seconds"),
            (
                self.max_in_flight >= self.workers,
                f"--max-in-flight ({self.max_in_flight}) is split across --workers ({self.workers}): "
                "give each worker at least 1",
            ),
            (
                len({self.model_name, *(m.name for m in self.extra_models)}) == 1 + len(self.extra_models),
                "every served model needs its own name (--model-name and --served-model)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

    def body_limit(self, context_length: int) -> int:
        """Bodies larger than this are refused (413) before they are read whole: enough for a prompt that fills
        the context (16 characters a token, up to 4 bytes each), plus room for tools and JSON escaping."""
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return 64 * context_length + (1 << 20)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arg = parser.add_argument
    arg("--tokenizer", type=Path, help="tokenizer folder (tokenizer.json, chat template)")
    arg("--triton", action="append", help="Triton gRPC address host:port; repeat (or comma-separate) for several")
    arg("--triton-model", help="Triton model to send token ids to (default tensorrt_llm)")
    arg(
        "--upstream",
        help="grpc-trtllm://HOST:PORT[,HOST:PORT][?guided_decoding=xgrammar]: TensorRT-LLM's TrtllmService "
        "(trtllm-serve MODEL --grpc) instead of Triton",
    )
    arg("--upstream-wait", help="seconds to wait at start for the TrtllmService to report its model (default 300)")
    arg("--model-name", help="model id served at /v1/models (default qwen3)")
    arg("--host", help="listen address (loopback by default)")
    arg("--port", help="listen port (default 9000)")
    arg("--workers", help="server processes sharing the port (default 1); each gets max-in-flight / N")
    arg("--max-model-len", help="context length (prompt + output); at most the engine's")
    arg("--model-repository", type=Path, help="the Triton model repository served: the engine's limits come from it")
    arg(
        "--served-model",
        action="append",
        help="one more model: NAME:tokenizer=DIR,triton=HOST:PORT[,triton-model=M,repository=DIR,max-model-len=N], "
        "or NAME:tokenizer=DIR,upstream=grpc-trtllm://HOST:PORT[+HOST:PORT][,max-model-len=N]",
    )
    arg(
        "--state-dir",
        type=Path,
        help="where the proxy keeps state (the Responses API's responses.sqlite3); default $STATE_DIRECTORY, "
        "else $XDG_STATE_HOME/trtllm-nix, else ~/.local/state/trtllm-nix",
    )
    arg(
        "--responses-store",
        help="PostgreSQL URL (postgresql://USER@HOST:PORT/DB) for the Responses API's stored responses, shared by "
        "proxies on several hosts; default: SQLite in --state-dir. The password: PGPASSFILE or ~/.pgpass",
    )
    arg("--responses-store-bytes", help="stored responses kept up to this many bytes, oldest out first (256 MiB)")
    arg("--responses-store-ttl", help="seconds a stored response is kept (default 86400)")
    arg("--api-key-file", type=Path, help="file holding the API key clients must send")
    arg(
        "--max-in-flight",
        help="429 past this many generations in flight; a request with n choices counts n (default 256)",
    )
    arg("--max-choices", help="generations one request may ask for: chat n, completions prompts x n (default 128)")
    arg("--cors-origin", action="append", help="allowed CORS origin (repeatable)")
    arg("--default-chat-template-kwargs", help='JSON object, e.g. {"enable_thinking": false}')
    arg("--keepalive-seconds", help="SSE keep-alive comment interval (default 15)")
    arg("--stall-timeout", help="seconds a stream may deliver nothing to a client that stopped reading (default 30)")
    arg("--max-body-bytes", help="413 for request bodies larger than this (default: sized to the context)")
    arg("--request-timeout", help="seconds a generation may take before it is cancelled with 504 (default 600)")
    arg("--header-timeout", help="408 and close when a request's headers take longer (seconds, default 10)")
    arg("--body-timeout", help="408 and close when a request's body takes longer after its headers (default 60)")
    arg("--max-connections", help="open connections per process; past it 503 and close (default 1000)")
    arg(
        "--public-metrics",
        action="store_true",
        default=None,
        help="serve /metrics without the API key (by default it needs the key when one is set)",
    )
    arg("--log-prompts", action="store_true", default=None)
    arg(
        "--reasoning-parser",
        choices=REASONING_CHOICES,
        help="split <think> reasoning (auto: when the tokenizer has the tags)",
    )
    arg(
        "--tool-call-parser",
        choices=TOOL_CALL_CHOICES,
        help="turn tool-call markup into tool_calls (auto: hermes; none: requests with tools get a 400)",
    )
    arg("--reasoning-alias", action="store_true", default=None, help="also send reasoning under the name `reasoning`")


def _value(ns: argparse.Namespace, env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    """The flag, else the variable, else ``default``; a value that does not parse is a one-line error."""
    raw = getattr(ns, name, None)
    source = _flag(name)
    if raw is None:
        raw, source = env.get(ENV_PREFIX + name.upper()), ENV_PREFIX + name.upper()
    if raw is None or raw == "":
        return default
    if not isinstance(raw, str):
        return raw  # type: ignore[no-any-return]  # already typed by argparse
    try:
        return parse(raw)
    except ValueError:
        raise UserError(f"{source} must be {_KINDS.get(parse, 'valid')}, got {raw!r}") from None


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_KINDS: dict[Callable[[str], Any], str] = {int: "an integer", float: "a number", _bool: "1 or 0"}
_PARSERS: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float, "bool": _bool, "Path": Path}


def default_state_dir(env: Mapping[str, str]) -> Path:
    """systemd's ``StateDirectory=`` (the first, when several), else the XDG state home."""
    systemd = (env.get("STATE_DIRECTORY") or "").split(":")[0]
    if systemd:
        return Path(systemd)
    xdg = env.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "trtllm-nix"


def from_namespace(ns: argparse.Namespace, env: Mapping[str, str] | None = None) -> ProxySettings:
    env = os.environ if env is None else env
    tokenizer = _value(ns, env, "tokenizer", Path, None)
    if tokenizer is None:
        raise UserError("--tokenizer is required (or set TRTLLM_NIX_PROXY_TOKENIZER)")
    kwargs_text = _value(ns, env, "default_chat_template_kwargs", str, "{}")
    try:
        template_kwargs = json.loads(kwargs_text)
    except json.JSONDecodeError as error:
        raise UserError(f"--default-chat-template-kwargs is not JSON: {error.msg}") from error
    if not isinstance(template_kwargs, dict):
        raise UserError("--default-chat-template-kwargs must be a JSON object")
    api_key = env.get(ENV_PREFIX + "API_KEY") or None
    key_file = _value(ns, env, "api_key_file", Path, None)
    if key_file is not None:
        try:
            api_key = Path(key_file).read_text("utf-8").strip()
        except OSError as error:
            raise UserError(f"cannot read --api-key-file {key_file}: {error.strerror}") from error
        if not api_key:
            raise UserError(f"--api-key-file {key_file} is empty")
    upstream_text = _value(ns, env, "upstream", str, None)
    upstream = parse_upstream(upstream_text) if upstream_text else None
    if upstream is not None:
        triton_given = [
            _flag(name)
            for name in ("triton", "triton_model", "model_repository")
            if getattr(ns, name, None) or env.get(ENV_PREFIX + name.upper())
        ]
        if triton_given:
            raise UserError(f"--upstream {upstream} replaces Triton: drop {', '.join(triton_given)}")
    given: dict[str, Any] = {
        "tokenizer": Path(tokenizer),
        "triton": ",".join(ns.triton or [env.get(ENV_PREFIX + "TRITON") or "127.0.0.1:8001"]),
        "api_key": api_key,
        "cors_origins": tuple(
            ns.cors_origin or [o for o in (env.get(ENV_PREFIX + "CORS_ORIGINS") or "").split(",") if o]
        ),
        "default_chat_template_kwargs": template_kwargs,
        "upstream": upstream,
        "state_dir": _value(ns, env, "state_dir", Path, None) or default_state_dir(env),
        "extra_models": tuple(parse_model_spec(text) for text in getattr(ns, "served_model", None) or []),
    }
    # Every other setting (but the signing secret) reads the same way: flag, variable, else the field's default,
    # parsed as its annotation says
    for f in fields(ProxySettings):
        kind = str(f.type).removesuffix(" | None")
        if f.name not in given and kind in _PARSERS:
            given[f.name] = _value(ns, env, f.name, _PARSERS[kind], f.default)
    return ProxySettings(**given)
