"""Where structured-output guides are compiled: threads of their own, a deadline, and a cache of outcomes.

- **Own threads** (``COMPILE_THREADS``), not asyncio's default executor: template rendering and tokenization of
  every request run there, and eight slow compiles once held all of its threads (an unrelated chat waited 13.6 s).
  xgrammar releases the GIL while it compiles, so a compile holds neither the event loop nor other requests' work.
- **A deadline** (``COMPILE_SECONDS``) on the wait, queue included: a compile still queued then is a 503 (the
  compiler is busy; try again), one that ran that long is a 400 naming the limit and is remembered as refused. A
  running compile cannot be stopped, but ``guide_limits`` keeps each one well under a second.
- **A cache** (``CACHE_ENTRIES`` outcomes, least recently used out): agents send the same schema on every turn, and a
  refused guide is refused again without compiling it again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from trtllm_nix.llm.events import GuidedDecoding
from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.formats.reasoning import ReasoningFormat
from trtllm_nix.proxy.formats.tool_calls import ToolCallFormat
from trtllm_nix.proxy.structured import StructuredOutputError, guided_decoding_for

COMPILE_THREADS = 2
COMPILE_SECONDS = 10.0
CACHE_ENTRIES = 256
CACHE_KEY_CHARS = 256 * 1024  # larger requests are compiled every time rather than held in memory

Outcome = GuidedDecoding | StructuredOutputError | None
LOG = logging.getLogger("trtllm_nix.proxy")


class GuideCompiler:
    def __init__(self, threads: int = COMPILE_THREADS, seconds: float = COMPILE_SECONDS) -> None:
        self.seconds = seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="guide-compile")
        self._cache: OrderedDict[str, Outcome] = OrderedDict()
        self._lock = threading.Lock()

    async def guide_for(
        self,
        body: Mapping[str, Any],
        reasoning: ReasoningFormat | None,
        format_param: str = "response_format",
        tool_calls: ToolCallFormat | None = None,
        schema_param: str = "parameters",
    ) -> GuidedDecoding | None:
        """``guided_decoding_for(body, reasoning, format_param, tool_calls, schema_param)``, compiled off the loop
        within the deadline, or from the cache; raises :class:`StructuredOutputError` (a 400 naming the field) or an
        :class:`APIError` 503 when busy."""
        if not _compiles(body):  # nothing to compile: plain checks, at once
            return guided_decoding_for(body, reasoning, format_param, tool_calls, schema_param)
        formats = [fmt.name if fmt is not None else None for fmt in (reasoning, tool_calls)]
        key = _key(body, formats, format_param, schema_param)
        if key is not None:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return _unwrap(self._cache[key])
        started = threading.Event()

        def work() -> Outcome:
            started.set()
            try:
                return guided_decoding_for(body, reasoning, format_param, tool_calls, schema_param)
            except StructuredOutputError as error:  # kept without its traceback (its frames hold the request)
                return StructuredOutputError(str(error), error.param)

        future = asyncio.wrap_future(self._pool.submit(work))
        try:
            outcome = await asyncio.wait_for(future, self.seconds)
        except TimeoutError:
            if not started.is_set():
                raise APIError(
                    503,
                    "the grammar compiler is busy with other requests' guides; try again",
                    type_="service_unavailable",
                    code="compiler_busy",
                    headers={"Retry-After": "1"},
                ) from None
            param = next((name for name in body if name not in ("tools", "parallel_tool_calls")), "tool_choice")
            param = format_param if param == "response_format" else param
            outcome = StructuredOutputError(
                f"{param} took longer than {self.seconds:g} s to compile (this server's limit); simplify it", param
            )
        if key is not None:
            self._remember(key, outcome)
        return _unwrap(outcome)

    async def warm(self) -> None:
        """Import xgrammar and make its compiler now, on these threads: the first import takes seconds (it imports
        torch) and holds the GIL for much of it, which on the first structured request stalled every stream."""
        try:
            await asyncio.wrap_future(self._pool.submit(guided_decoding_for, {"guided_regex": "[a-z]"}))
        except ImportError as error:  # structured requests will say so; serving everything else goes on
            LOG.warning("guided decoding is on, but the grammar compiler cannot be loaded: %s", error)

    def _remember(self, key: str, outcome: Outcome) -> None:
        with self._lock:
            self._cache[key] = outcome
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _compiles(body: Mapping[str, Any]) -> bool:
    """Whether the request asks for a guide (tools alone, or with tool_choice auto or none, ask for none)."""
    others = set(body) - {"tools", "parallel_tool_calls", "tool_choice"}
    return bool(others) or body.get("tool_choice") not in (None, "auto", "none")


def _key(body: Mapping[str, Any], formats: list[str | None], format_param: str, schema_param: str) -> str | None:
    try:  # the params too: a refusal names the field as the client's API calls it; the formats write the grammar
        text = json.dumps([body, formats, format_param, schema_param], sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return text if len(text) <= CACHE_KEY_CHARS else None


def _unwrap(outcome: Outcome) -> GuidedDecoding | None:
    if isinstance(outcome, StructuredOutputError):
        raise StructuredOutputError(str(outcome), outcome.param)
    return outcome


COMPILER = GuideCompiler()  # one per process: the server's threads for guides
