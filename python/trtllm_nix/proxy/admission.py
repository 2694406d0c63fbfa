"""The limit on generations in flight (429 past it), the cap on generations per request, and the API key check.

A generation is one upstream request: a chat request with ``n`` choices is ``n`` of them, a completions request
``prompts x n``, a Responses request one. Routes admit a request before preparing it (template rendering,
tokenization, grammar compilation), so a full server answers 429 without doing that work first.

With ``--workers N`` each worker process holds its own share of the limit (see proxy/workers.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.metrics import ProxyMetrics


@dataclass
class Ticket:
    """One admitted request's generations; ``release`` gives them back (once, however often it is called)."""

    admission: Admission
    generations: int
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.admission.give_back(self.generations)


class Admission:
    def __init__(self, limit: int, metrics: ProxyMetrics, max_choices: int = 128) -> None:
        self.limit = limit
        self.max_choices = max_choices
        self.in_flight = 0  # requests
        self.generations = 0
        self._metrics = metrics

    def admit(self, generations: int = 1, param: str = "n", what: str = "") -> Ticket:
        """Admit a request of ``generations``: a 400 naming ``param`` when one request may never ask for that many
        (``what`` says how the count came about, e.g. "n is 5"), a 429 when the server is full now."""
        asked = f"{what}: {generations} generations" if what else f"{generations} generations"
        if generations > self.max_choices:
            raise bad_request(
                f"{asked}; this server runs at most {self.max_choices} for one request (--max-choices)", param=param
            )
        if generations > self.limit:
            raise bad_request(
                f"{asked}; this server runs at most {self.limit} generations at once (--max-in-flight)", param=param
            )
        if self.generations + generations > self.limit:
            self._metrics.rejections.labels(reason="too_many_requests").inc()
            raise APIError(
                429,
                f"the server is at its limit of {self.limit} generations in flight "
                f"({self.generations} running, this request asks for {generations})",
                type_="rate_limit_error",
                code="too_many_requests",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1
        self.generations += generations
        self._metrics.in_flight.inc()
        self._metrics.generations_in_flight.inc(generations)
        return Ticket(self, generations)

    def give_back(self, generations: int) -> None:
        self.in_flight -= 1
        self.generations -= generations
        self._metrics.in_flight.dec()
        self._metrics.generations_in_flight.dec(generations)


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
