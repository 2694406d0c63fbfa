"""Stored responses for ``store: true``: ``previous_response_id`` and ``GET``/``DELETE /v1/responses/{id}``.

Per process and in memory: a restart forgets everything, and with several proxy processes a follow-up request
must reach the same one. Bounded (the oldest entry goes first when full) and expiring (an entry older than the TTL
is gone), so a long-running server does not grow without limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trtllm_nix.proxy.api_errors import APIError
from trtllm_nix.proxy.responses_api.protocol import qualified


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The ``Response`` object as sent, and the conversation so far as chat messages (its input, then its output
    as an assistant turn), without its ``instructions``: what a request naming it continues from."""

    response: dict[str, Any]
    conversation: list[dict[str, Any]]


def output_messages(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A response's output items as the chat messages of one assistant turn (reasoning, text, tool calls)."""
    turn: dict[str, Any] = {"role": "assistant", "content": ""}
    for item in response["output"]:
        if item["type"] == "reasoning":
            turn["reasoning_content"] = "".join(part["text"] for part in item.get("content") or [])
        elif item["type"] == "message":
            turn["content"] += "".join(part.get("text", "") for part in item["content"])
        elif item["type"] == "function_call":
            function = {"name": qualified(item.get("namespace"), item["name"]), "arguments": item["arguments"]}
            turn.setdefault("tool_calls", []).append({"id": item["call_id"], "type": "function", "function": function})
    return [turn]


class ResponseStore:
    def __init__(
        self, max_entries: int = 1024, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("the response store needs room for one entry and a positive TTL")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, StoredResponse]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, entry: StoredResponse) -> None:
        with self._lock:
            self._expire()
            key = entry.response["id"]
            self._entries.pop(key, None)
            self._entries[key] = (self._clock() + self.ttl_s, entry)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            self._expire()
            found = self._entries.get(response_id)
            return found[1] if found else None

    def delete(self, response_id: str) -> bool:
        with self._lock:
            self._expire()
            return self._entries.pop(response_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            key, (deadline, _) = next(iter(self._entries.items()))
            if deadline > now:
                return
            del self._entries[key]


def not_found(response_id: str, param: str | None = None) -> APIError:
    """OpenAI's answer for an unknown (never stored, expired or deleted) response id."""
    return APIError(404, f"Response with id '{response_id}' not found.", param=param)


def previous_conversation(store: ResponseStore, previous_response_id: str | None) -> list[dict[str, Any]] | None:
    """What ``translate.to_chat`` continues from; 404 for an unknown id."""
    if previous_response_id is None:
        return None
    found = store.get(previous_response_id)
    if found is None:
        raise not_found(previous_response_id, param="previous_response_id")
    return found.conversation


def remember(
    store: ResponseStore, store_requested: bool, conversation: list[dict[str, Any]], response: dict[str, Any]
) -> None:
    """Keep a finished (or failed) response when the request had ``store: true``."""
    if store_requested:
        store.put(StoredResponse(response, [*conversation, *output_messages(response)]))


def get_response(store: ResponseStore, response_id: str) -> dict[str, Any]:
    """``GET /v1/responses/{id}``."""
    found = store.get(response_id)
    if found is None:
        raise not_found(response_id)
    return found.response


def delete_response(store: ResponseStore, response_id: str) -> dict[str, Any]:
    """``DELETE /v1/responses/{id}``."""
    if not store.delete(response_id):
        raise not_found(response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}
