"""What the app owns for its lifetime: settings, model files, the Triton channel, and the in-flight count."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.requests import Request

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.metrics import ProxyMetrics
from trtllm_nix.proxy.model_files import ChatTemplate, ModelFiles
from trtllm_nix.proxy.pool import UpstreamPool
from trtllm_nix.proxy.settings import ProxySettings


@dataclass
class ProxyState:
    settings: ProxySettings
    files: ModelFiles
    template: ChatTemplate | None
    upstream: UpstreamPool
    metrics: ProxyMetrics = field(default_factory=ProxyMetrics)
    in_flight: int = 0
    _api_key: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._api_key = self.settings.api_key.encode() if self.settings.api_key else None
        self.metrics.in_flight.set_function(lambda: self.in_flight)

    def check_model(self, model: str) -> None:
        if model != self.settings.model_name:
            raise APIError(
                404,
                f"the model {model!r} does not exist; this server serves {self.settings.model_name!r}",
                type_="not_found_error",
                param="model",
                code="model_not_found",
            )

    def check_api_key(self, authorization: str | None) -> None:
        """Constant-time comparison of ``Authorization: Bearer <key>``; never logs the key."""
        if self._api_key is None:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), self._api_key):
            self.metrics.rejections.labels(reason="unauthorized").inc()
            raise APIError(
                401,
                "a valid API key is required: send Authorization: Bearer <key>",
                type_="authentication_error",
                code="invalid_api_key",
            )

    def admit(self) -> None:
        """Count one more request in flight, or refuse it with 429 when the limit is reached."""
        if self.in_flight >= self.settings.max_in_flight:
            self.metrics.rejections.labels(reason="too_many_requests").inc()
            raise APIError(
                429,
                f"the server is at its limit of {self.settings.max_in_flight} requests in flight",
                type_="rate_limit_error",
                code="too_many_requests",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1


def get_state(request: Request) -> ProxyState:
    state: ProxyState = request.app.state.proxy
    return state
