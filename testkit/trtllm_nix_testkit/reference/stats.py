"""Request counters of the reference backend, mirrored to a JSON file that tests and benchmarks read."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOG = logging.getLogger("trtllm_nix_testkit.reference")


@dataclass
class Counters:
    started: int = 0
    finished: int = 0
    cancelled: int = 0
    failed: int = 0
    tokens: int = 0


@dataclass
class StatsFile:
    """Thread-safe counters; every start/end event rewrites ``path`` atomically (write, then rename)."""

    path: Path | None
    counters: Counters = field(default_factory=Counters)
    last_request: dict[str, object] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: str, tokens: int = 0, request: dict[str, object] | None = None) -> None:
        with self._lock:
            setattr(self.counters, event, getattr(self.counters, event) + 1)
            self.counters.tokens += tokens
            if request is not None:
                self.last_request = request
            snapshot = dict(asdict(self.counters), active=self.active_locked(), last_request=self.last_request)
        if self.path is not None:
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
            try:
                temporary.write_text(json.dumps(snapshot), "utf-8")
                temporary.replace(self.path)
            except OSError as error:  # a mirror for tests: never the reason the engine thread stops
                LOG.warning("cannot write the request counters to %s: %s", self.path, error)

    def active_locked(self) -> int:
        c = self.counters
        return c.started - c.finished - c.cancelled - c.failed


def read_stats(path: Path) -> dict[str, int]:
    """The counters the backend last wrote; all zeros before its first request."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return dict(asdict(Counters()), active=0)
    return {key: int(value) for key, value in data.items() if key != "last_request"}


def read_last_request(path: Path) -> dict[str, object]:
    """What the most recent request asked for: limits, end id, stop sequences and sampling values."""
    data = json.loads(path.read_text("utf-8"))
    last: dict[str, object] = data.get("last_request", {})
    return last
