"""Work that would hold the event loop (template rendering, tokenizing, message conversion, the response store) runs
in a worker thread, so one long prompt never freezes the streams of everybody else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread (the tokenizer's batch call releases the GIL)."""
    return await asyncio.to_thread(work)
