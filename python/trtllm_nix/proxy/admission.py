"""The limit on requests in flight (429 past it), and the API key check.

With ``--workers N`` each worker process holds its own share of the limit (see proxy/workers.py)."""

from __future__ import annotations

import secrets

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.metrics import ProxyMetrics


class Admission:
    def __init__(self, limit: int, metrics: ProxyMetrics) -> None:
        self.limit = limit
        self.in_flight = 0
        self._metrics = metrics

    def admit(self) -> None:
        """Count one more request in flight, or refuse it with 429 when the limit is reached."""
        if self.in_flight >= self.limit:
            self._metrics.rejections.labels(reason="too_many_requests").inc()
            raise APIError(
                429,
                f"the server is at its limit of {self.limit} requests in flight",
                type_="rate_limit_error",
                code="too_many_requests",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1
        self._metrics.in_flight.inc()

    def release(self) -> None:
        self.in_flight -= 1
        self._metrics.in_flight.dec()


class ApiKey:
    def __init__(self, key: str | None, metrics: ProxyMetrics) -> None:
        self._key = key.encode() if key else None
        self._metrics = metrics

    def allows(self, authorization: str | None) -> bool:
        """Constant-time comparison of ``Authorization: Bearer <key>``; never logs the key."""
        if self._key is None:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(), self._key)

    def check(self, authorization: str | None) -> None:
        if not self.allows(authorization):
            self._metrics.rejections.labels(reason="unauthorized").inc()
            raise APIError(
                401,
                "a valid API key is required: send Authorization: Bearer <key>",
                type_="authentication_error",
                code="invalid_api_key",
            )
