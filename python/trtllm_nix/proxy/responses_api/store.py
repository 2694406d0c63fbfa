"""Stored responses for ``store: true``: ``previous_response_id``, ``item_reference`` and ``GET``/``DELETE
/v1/responses/{id}`` (docs/responses-api.md, "What is stored, and for how long").

Two backends, one behaviour (the same tests run against both): ``SQLiteStore``, ``responses.sqlite3`` in the proxy's
state directory (WAL mode) that every ``--workers`` process and every proxy sharing the directory sees (in memory
without a path: one process, gone at exit); ``PostgresStore`` (``--responses-store postgresql://...``), one table
for proxies on several hosts behind a gateway (needs ``psycopg``, the ``postgresql`` extra). Either way a restart
forgets nothing; an entry expires ``ttl_s`` seconds after it was stored (wall clock: across restarts, and across
hosts whose clocks agree), and past ``max_bytes`` of JSON the oldest go first (an entry larger than the whole store
is not kept: a later request naming it gets the 404 of an expired one).

The calls block (a write commits); the routes run them off the event loop.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from trtllm_nix.errors import SetupError
from trtllm_nix.proxy.api_errors import APIError, bad_request
from trtllm_nix.proxy.responses_api.protocol import ItemReference, ResponsesRequest, parse_item, qualified
from trtllm_nix.proxy.responses_api.translate import chat_call

LOG = logging.getLogger("trtllm_nix.proxy")
DEFAULT_MAX_BYTES = 256 << 20
DEFAULT_TTL_S = 86_400.0
FILE_NAME = "responses.sqlite3"
_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- storing order: the oldest go first
    id TEXT NOT NULL UNIQUE,
    expires REAL NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires);
"""
_POSTGRES_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS responses (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- storing order: the oldest go first
        id TEXT NOT NULL UNIQUE,
        expires DOUBLE PRECISION NOT NULL,
        size BIGINT NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires)",
)
_LOCK_KEY = 0x7472746C6C6D  # "trtllm": the advisory lock that serializes writers (and schema creation)


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
            name = qualified(item.get("namespace"), item["name"])
            turn.setdefault("tool_calls", []).append(chat_call(item["call_id"], name, item["arguments"]))
    return [turn]


class _Result(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...


class _Cursor(Protocol):
    """What a backend's transaction hands the shared SQL: ``execute(sql, params)`` with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> _Result: ...


T = TypeVar("T")
# keep the newest entries whose sizes add up to at most max_bytes (standard SQL: both backends run it)
_EVICT = (
    "DELETE FROM responses WHERE seq IN (SELECT seq FROM (SELECT seq, SUM(size) OVER "
    "(ORDER BY seq DESC) AS kept FROM responses) AS ranked WHERE kept > ?)"
)


class StoreUnavailable(APIError):
    """The database could not be reached or failed: a 503 in the API's shape (the request may be retried)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message, type_="service_unavailable", code="responses_store_unavailable")


class ResponseStore(ABC):
    """The bounded store's logic, in SQL both backends speak; a backend runs one unit of work as a transaction."""

    def __init__(self, max_bytes: int, ttl_s: float, clock: Callable[[], float]) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _run(self, write: bool, work: Callable[[_Cursor], T]) -> T:
        """``work`` in one transaction. A write is serialized with every other write (the eviction reads every
        size) and first drops the expired entries (an expired entry is never read). ``work`` may run twice (a
        retry on a new connection): it is idempotent."""

    def put(self, entry: StoredResponse) -> None:
        body = json.dumps({"response": entry.response, "conversation": entry.conversation}, ensure_ascii=False)
        size = len(body.encode("utf-8"))
        key = entry.response["id"]
        if size > self.max_bytes:
            LOG.warning(
                "response %s is %d bytes, more than the response store's %d: not stored", key, size, self.max_bytes
            )
            return

        def work(db: _Cursor) -> None:
            db.execute("DELETE FROM responses WHERE id = ?", (key,))
            db.execute(
                "INSERT INTO responses (id, expires, size, body) VALUES (?, ?, ?, ?)",
                (key, self._clock() + self.ttl_s, size, body),
            )
            db.execute(_EVICT, (self.max_bytes,))

        self._run(True, work)

    def get(self, response_id: str) -> StoredResponse | None:
        query = "SELECT body FROM responses WHERE id = ? AND expires > ?"
        row = self._run(False, lambda db: db.execute(query, (response_id, self._clock())).fetchone())
        if row is None:
            return None
        found = json.loads(row[0])
        return StoredResponse(found["response"], found["conversation"])

    def delete(self, response_id: str) -> bool:
        query = "DELETE FROM responses WHERE id = ?"
        return self._run(True, lambda db: db.execute(query, (response_id,)).rowcount) > 0

    def bytes(self) -> int:
        """The stored JSON's size, what ``max_bytes`` bounds."""
        query = "SELECT COALESCE(SUM(size), 0) FROM responses WHERE expires > ?"
        return int(self._run(False, lambda db: db.execute(query, (self._clock(),)).fetchone()[0]))

    def __len__(self) -> int:
        query = "SELECT COUNT(*) FROM responses WHERE expires > ?"
        return int(self._run(False, lambda db: db.execute(query, (self._clock(),)).fetchone()[0]))


class SQLiteStore(ResponseStore):
    def __init__(
        self,
        path: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(max_bytes, ttl_s, clock)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit off by hand (isolation_level None): each method is one explicit transaction
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the one writer
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
        self._db.executescript(_SQLITE_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, write: bool, work: Callable[[_Cursor], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # IMMEDIATE: one writer at a time
            try:
                if write:
                    self._db.execute("DELETE FROM responses WHERE expires <= ?", (self._clock(),))
                result = work(cast(_Cursor, self._db))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result


class _PostgresCursor:
    """psycopg's cursor behind the shared SQL's ``?`` placeholders (that SQL has no literal ``?`` or ``%``)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[object] = ()) -> _Result:
        return cast(_Result, self._cursor.execute(sql.replace("?", "%s"), params))


class PostgresStore(ResponseStore):
    """One ``responses`` table in a PostgreSQL database that every proxy, on any host, connects to.

    One connection per process, used by one call at a time (the calls are short). A lost connection (the server
    restarted, a network blip) is opened again, and the call that met it runs once more on the new one. Writes
    take a transaction-scoped advisory lock, so eviction sees every size, as SQLite's single writer does."""

    def __init__(
        self,
        url: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
        connect_timeout_s: int = 10,
    ) -> None:
        super().__init__(max_bytes, ttl_s, clock)
        self.url = url
        self._connect_timeout_s = connect_timeout_s
        self._psycopg = import_driver()
        self._db: Any = None
        with self._lock:
            try:
                self._connect()  # a wrong URL or an unreachable server is a start-up error, not a 503 later
            except StoreUnavailable as error:
                raise SetupError(error.message) from None

    def _connect(self) -> Any:
        try:
            db = self._psycopg.connect(self.url, autocommit=True, connect_timeout=self._connect_timeout_s)
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))  # two proxies creating it at once
                for statement in _POSTGRES_SCHEMA:
                    db.execute(statement)
        except self._psycopg.Error as error:
            raise StoreUnavailable(
                f"the Responses store {redacted(self.url)} is unreachable: {_first_line(error)}"
            ) from None
        self._db = db
        return db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, write: bool, work: Callable[[_Cursor], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                db = self._db if self._db is not None and not self._db.closed else self._connect()
                try:
                    with db.transaction():
                        cursor = _PostgresCursor(db.cursor())
                        if write:
                            cursor.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
                            cursor.execute("DELETE FROM responses WHERE expires <= ?", (self._clock(),))
                        return work(cursor)
                except self._psycopg.OperationalError as error:
                    with contextlib.suppress(self._psycopg.Error):
                        db.close()
                    self._db = None
                    if attempt == 2:
                        message = f"the Responses store {redacted(self.url)} failed: {_first_line(error)}"
                        raise StoreUnavailable(message) from None
                    LOG.warning("Responses store: the connection was lost (%s); connecting again", _first_line(error))
            raise AssertionError("unreachable")


def import_driver() -> Any:
    """psycopg (3), or the one-line error that says how to get it."""
    try:
        return importlib.import_module("psycopg")  # typed Any here: the driver is optional (an extra)
    except ImportError:
        raise SetupError(
            "--responses-store postgresql://... needs the psycopg driver: pip install 'trtllm-nix[postgresql]' "
            "(or psycopg[binary])"
        ) from None


def redacted(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def open_store(
    location: str | None, state_dir: Path | None, max_bytes: int = DEFAULT_MAX_BYTES, ttl_s: float = DEFAULT_TTL_S
) -> ResponseStore:
    """``--responses-store URL`` when given (PostgreSQL), else SQLite in ``state_dir`` (in memory without one)."""
    if location is not None:
        return PostgresStore(location, max_bytes=max_bytes, ttl_s=ttl_s)
    return SQLiteStore(state_dir / FILE_NAME if state_dir is not None else None, max_bytes=max_bytes, ttl_s=ttl_s)


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
