"""Stored responses for ``store: true``: ``previous_response_id``, ``item_reference`` and ``GET``/``DELETE
/v1/responses/{id}``.

A SQLite database (``responses.sqlite3`` in the proxy's state directory, WAL mode), so every ``--workers`` process
and every proxy sharing that directory sees every stored response, and a restart forgets nothing. Bounded two ways:
an entry expires ``ttl_s`` seconds (wall clock, so across restarts too) after it was stored, and when the entries'
JSON passes ``max_bytes`` the oldest go first. An entry larger than the whole store is not kept (a later request
naming it gets the 404 of an expired one). Without a path the database is in memory: one process, gone at exit.

The calls block (a write commits); the routes run them off the event loop.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.responses_api.protocol import ItemReference, ResponsesRequest, parse_item, qualified

LOG = logging.getLogger("trtllm_nix.proxy")
DEFAULT_MAX_BYTES = 256 << 20
DEFAULT_TTL_S = 86_400.0
FILE_NAME = "responses.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- storing order: the oldest go first
    id TEXT NOT NULL UNIQUE,
    expires REAL NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires);
"""


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
        self,
        path: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 1 or ttl_s <= 0:
            raise ValueError("the response store needs a positive size and a positive TTL")
        self.path = path
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit off by hand (isolation_level None): each method is one explicit transaction
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the one writer
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, entry: StoredResponse) -> None:
        body = json.dumps({"response": entry.response, "conversation": entry.conversation}, ensure_ascii=False)
        size = len(body.encode("utf-8"))
        key = entry.response["id"]
        if size > self.max_bytes:
            LOG.warning(
                "response %s is %d bytes, more than the response store's %d: not stored", key, size, self.max_bytes
            )
            return
        with self._transaction(write=True) as db:
            db.execute("DELETE FROM responses WHERE id = ?", (key,))
            db.execute(
                "INSERT INTO responses (id, expires, size, body) VALUES (?, ?, ?, ?)",
                (key, self._clock() + self.ttl_s, size, body),
            )
            # keep the newest entries whose sizes add up to at most max_bytes
            db.execute(
                "DELETE FROM responses WHERE seq IN (SELECT seq FROM (SELECT seq, SUM(size) OVER "
                "(ORDER BY seq DESC) AS kept FROM responses) WHERE kept > ?)",
                (self.max_bytes,),
            )

    def get(self, response_id: str) -> StoredResponse | None:
        with self._transaction(write=False) as db:
            row = db.execute(
                "SELECT body FROM responses WHERE id = ? AND expires > ?", (response_id, self._clock())
            ).fetchone()
        if row is None:
            return None
        found = json.loads(row[0])
        return StoredResponse(found["response"], found["conversation"])

    def delete(self, response_id: str) -> bool:
        with self._transaction(write=True) as db:
            gone = db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount
        return gone > 0

    def bytes(self) -> int:
        """The stored JSON's size, what ``max_bytes`` bounds."""
        with self._transaction(write=False) as db:
            query = "SELECT COALESCE(SUM(size), 0) FROM responses WHERE expires > ?"
            return int(db.execute(query, (self._clock(),)).fetchone()[0])

    def __len__(self) -> int:
        with self._transaction(write=False) as db:
            return int(db.execute("SELECT COUNT(*) FROM responses WHERE expires > ?", (self._clock(),)).fetchone()[0])

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction; a write first drops the expired entries (an expired entry is never read)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                if write:
                    self._db.execute("DELETE FROM responses WHERE expires <= ?", (self._clock(),))
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


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


def stored_item(store: ResponseStore, item_id: str) -> dict[str, Any] | None:
    """An output item of a stored response. Item ids are ``<kind>_<response id's hex><index>`` (``render``), so
    the id names its response."""
    kind, _, rest = item_id.partition("_")
    if not kind or len(rest) <= 32:
        return None
    found = store.get("resp_" + rest[:32])
    if found is None:
        return None
    return next((item for item in found.response.get("output", []) if item.get("id") == item_id), None)


def resolve_references(store: ResponseStore, request: ResponsesRequest) -> ResponsesRequest:
    """``request`` with each ``item_reference`` replaced by the stored item it names; 400 for an id this server
    does not hold (never stored, stored with ``store: false``, expired or deleted)."""
    if isinstance(request.input, str) or not any(isinstance(item, ItemReference) for item in request.input):
        return request
    items = []
    for index, item in enumerate(request.input):
        if isinstance(item, ItemReference):
            found = stored_item(store, item.id)
            if found is None:
                raise bad_request(
                    f"input[{index}]: item_reference {item.id!r} names no stored item (never stored, stored with "
                    "store: false, expired or deleted); send the item itself",
                    param=f"input[{index}].id",
                )
            item = parse_item(index, found)
        items.append(item)
    return request.model_copy(update={"input": items})


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
