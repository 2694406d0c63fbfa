"""What the routes hand to serving: the app's state (models, lifecycle, settings, metrics, stores) and one HTTP
request as serving sees it (``Call``: its id, arrival time and the request, for the client leaving)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import Request

from trtllm_nix.proxy.admission import ApiKey
from trtllm_nix.proxy.lifecycle import Lifecycle
from trtllm_nix.proxy.messages_api.signing import ThinkingSigner
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.responses_api.store import ResponseStore, SQLiteStore
from trtllm_nix.proxy.served import ServedModels
from trtllm_nix.proxy.settings import ProxySettings


@dataclass
class AppState:
    settings: ProxySettings
    models: ServedModels
    lifecycle: Lifecycle
    api_key: ApiKey
    metrics: ProxyMetrics
    signer: ThinkingSigner  # of /v1/messages thinking blocks (messages_api.signing)
    responses: ResponseStore = field(default_factory=SQLiteStore)  # shared by workers: see responses_api.store


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.proxy
    return state


@dataclass(frozen=True)
class Call:
    """One HTTP request, as the serving functions take it."""

    state: AppState
    request: Request
    request_id: str
    arrived: float  # perf_counter at arrival (the middleware's), for time to first token

    @classmethod
    def of(cls, request: Request) -> Call:
        scope = request.scope.get("state", {})
        arrived = scope.get("arrived")
        return cls(
            get_state(request),
            request,
            str(scope.get("request_id", "")),
            float(arrived) if arrived is not None else time.perf_counter(),
        )
