"""PostgreSQL store (psycopg 3): one table, shared safely by any number of processes.

The table ``flowai_kv(key TEXT COLLATE "C" PRIMARY KEY, value TEXT, expires_at BIGINT)``
is created if missing. Expiry uses the server's clock, so clients on machines
with skewed clocks agree on what has expired. Each call is one autocommitted
statement; ``add`` is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
expired``, so of several concurrent ``add`` calls exactly one wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

try:
    import psycopg
    from psycopg import errors as pg_errors
except ImportError as exc:  # pragma: no cover - exercised with the driver hidden
    raise ImportError(
        'the "postgres" store needs psycopg 3; install it with: pip install "flowai_nb[postgres]"'
    ) from exc

from ._common import check_key, check_prefix, check_ttl, prefix_end, redact_url
from ._notify import SERVER_CHANNEL, Listeners
from .base import KeyValueStore, Op, _split_notify, _split_read, decode, encode

__all__ = ["PostgresStore"]

_NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
_LIVE = f"(expires_at IS NULL OR expires_at > {_NOW})"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS flowai_kv ("
    'key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL, expires_at BIGINT)'
)
_UPSERT = (
    f"INSERT INTO flowai_kv (key, value, expires_at) VALUES (%s, %s, {_NOW} + %s::bigint) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
_ADD = _UPSERT + f" WHERE flowai_kv.expires_at IS NOT NULL AND flowai_kv.expires_at <= {_NOW}"
_GUARDED_ADD = f"WITH added AS ({_ADD} RETURNING 1) SELECT 1 / (SELECT count(*) FROM added)::int"
"""``add`` inside :meth:`PostgresStore.write`: fails (division by zero) when the key is live."""
_ROWS = "SELECT k, v, NULL::bigint FROM unnest(%s::text[], %s::text[]) AS t(k, v)"
_ON_CONFLICT = ("ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "expires_at = excluded.expires_at")
_WRITE_DISTINCT = (
    f"WITH added AS (INSERT INTO flowai_kv (key, value, expires_at) {_ROWS} {_ON_CONFLICT} "
    f"WHERE flowai_kv.expires_at IS NOT NULL AND flowai_kv.expires_at <= {_NOW} RETURNING 1), "
    "deleted AS (DELETE FROM flowai_kv WHERE key = ANY(%s::text[])), "
    f"put AS (INSERT INTO flowai_kv (key, value, expires_at) {_ROWS} {_ON_CONFLICT}) "
    "SELECT 1 / ((SELECT count(*) FROM added) = %s)::int, "
    "(SELECT count(pg_notify(%s, c)) FROM unnest(%s::text[]) AS n(c))"
)
"""A :meth:`PostgresStore.write` whose ops name distinct keys, as one prepared statement:
the adds (which all must win, or the statement divides by zero and nothing is written),
the deletes, the puts and the notifications. Data-modifying CTEs on distinct keys do
not see each other, so their order does not matter."""




class PostgresStore(KeyValueStore):
    """A :class:`KeyValueStore` in a PostgreSQL table.

    Args:
        url: a ``postgresql://user:password@host:port/dbname`` URL.

    One connection per store, used by one thread at a time; it is reopened
    automatically if the server dropped it.
    """

    kind = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._listeners: Listeners | None = None
        self._closed = threading.Event()
        self._conn = self._connect()
        try:
            self._conn.execute(_SCHEMA)
        except (pg_errors.UniqueViolation, pg_errors.DuplicateTable, pg_errors.DuplicateObject):
            pass  # another process created the table at the same moment

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise psycopg.OperationalError(
                f"cannot connect to the postgres store at {redact_url(self.url)}: {exc}"
            ) from exc
        try:  # every query here is a primary-key lookup or range: never re-plan it per call
            conn.execute("SET plan_cache_mode = force_generic_plan")
        except psycopg.Error:  # PostgreSQL < 12: custom plans, only slower
            pass
        return conn

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> tuple[list[tuple[Any, ...]], int]:
        with self._lock:
            if self._conn.broken:
                self._conn = self._connect()
            cur = self._conn.execute(sql, params)
            return (cur.fetchall() if cur.description else []), cur.rowcount

    def get(self, key: str) -> Any | None:
        check_key(key)
        rows, _ = self._fetch(f"SELECT value FROM flowai_kv WHERE key = %s AND {_LIVE}", (key,))
        return decode(rows[0][0]) if rows else None

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        keys = [check_key(key) for key in keys]
        rows, _ = self._fetch(f"SELECT key, value FROM flowai_kv WHERE key = ANY(%s) AND {_LIVE}",
                              (keys,)) if keys else ([], 0)
        found = dict(rows)
        return [None if (text := found.get(key)) is None else decode(text) for key in keys]

    def read(self, keys: Sequence[str],
             prefixes: Sequence[str] = ()) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        """The values at ``keys`` and the items under each prefix: one statement."""
        keys = [check_key(key) for key in keys]
        parts: list[str] = []
        params: list[Any] = []
        if keys:
            parts.append(f"SELECT 0, key, value FROM flowai_kv WHERE key = ANY(%s) AND {_LIVE}")
            params.append(keys)
        for i, prefix in enumerate(prefixes, 1):
            sql = f"SELECT {i}, key, value FROM flowai_kv WHERE key >= %s AND {_LIVE}"
            params.append(check_prefix(prefix))
            if (end := prefix_end(prefix)) is not None:
                sql += " AND key < %s"
                params.append(end)
            parts.append(sql)
        if not parts:
            return [], []
        rows, _ = self._fetch(" UNION ALL ".join(parts) + " ORDER BY 1, 2", tuple(params))
        return _split_read(keys, prefixes, rows)

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        check_key(key)
        self._fetch(_UPSERT, (key, encode(value), check_ttl(ttl_ms)))

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        check_key(key)
        _, count = self._fetch(_ADD, (key, encode(value), check_ttl(ttl_ms)))
        return count == 1

    def write(self, ops: Iterable[Op]) -> bool:
        """All ``ops`` in one round trip and one transaction. An ``add`` whose key is live
        makes the statement divide by zero, which rolls the whole transaction back
        (reported as ``False``). Ops on distinct keys (the usual case) are one prepared
        statement; several ops on one key run as one statement each, in order."""
        ops, channels = _split_notify(ops)
        if len({key for _, key, _ in ops}) == len(ops):
            return self._write_distinct(ops, channels)
        statements: list[tuple[str, tuple[Any, ...]]] = []
        for op, key, value in ops:
            if op == "delete":
                statements.append(("DELETE FROM flowai_kv WHERE key = %s", (key,)))
            else:
                statements.append((_UPSERT if op == "put" else _GUARDED_ADD,
                                   (key, encode(value), None)))
        statements += [("SELECT pg_notify(%s, %s)", (SERVER_CHANNEL, channel))
                       for channel in channels]  # delivered by the server at commit
        if not statements:
            return True
        with self._lock:
            if self._conn.broken:
                self._conn = self._connect()
            with psycopg.ClientCursor(self._conn) as cur:
                try:
                    cur.execute(";".join(cur.mogrify(sql, params) for sql, params in statements))
                except pg_errors.DivisionByZero:
                    return False
        return True

    def _write_distinct(self, ops: list[Op], channels: list[str]) -> bool:
        if not ops and not channels:
            return True
        added: tuple[list[str], list[str]] = ([], [])
        put: tuple[list[str], list[str]] = ([], [])
        deleted: list[str] = []
        for op, key, value in ops:
            if op == "delete":
                deleted.append(key)
            else:
                keys, texts = added if op == "add" else put
                keys.append(key)
                texts.append(encode(value))
        try:
            self._fetch(_WRITE_DISTINCT, (*added, deleted, *put, len(added[0]),
                                          SERVER_CHANNEL, channels))
        except pg_errors.DivisionByZero:
            return False
        return True

    def delete(self, key: str) -> bool:
        check_key(key)
        rows, _ = self._fetch(f"DELETE FROM flowai_kv WHERE key = %s RETURNING {_LIVE}", (key,))
        return bool(rows) and bool(rows[0][0])

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        check_prefix(prefix)
        end = prefix_end(prefix)
        sql = f"SELECT key, value FROM flowai_kv WHERE key >= %s AND {_LIVE}"
        params: tuple[Any, ...] = (prefix,)
        if end is not None:
            sql += " AND key < %s"
            params += (end,)
        rows, _ = self._fetch(sql + " ORDER BY key", params)
        return [(k, decode(v)) for k, v in rows]

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        check_prefix(prefix)
        end = prefix_end(prefix)
        sql = f"SELECT key, value FROM flowai_kv WHERE key >= %s AND key > %s AND {_LIVE}"
        params: tuple[Any, ...] = (prefix, check_key(after))
        if end is not None:
            sql += " AND key < %s"
            params += (end,)
        rows, _ = self._fetch(sql + " ORDER BY key", params)
        return [(k, decode(v)) for k, v in rows]

    def listen(self, channel: str, callback: Callable[[], None]) -> Callable[[], None]:
        """PostgreSQL ``LISTEN``/``NOTIFY``: ``callback`` runs when a write notifying
        ``channel`` commits (on a background thread with its own connection)."""
        with self._lock:
            if self._listeners is None:
                self._listeners = Listeners()
                threading.Thread(target=self._listen_loop, args=(self._listeners,),
                                 name="flowai-pg-listen", daemon=True).start()
            return self._listeners.add(channel, callback)

    def _listen_loop(self, listeners: Listeners) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {SERVER_CHANNEL}")
                    listeners.fire(None)  # anything written before LISTEN took effect
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=0.5):
                            listeners.fire(note.payload)
            except Exception:  # noqa: BLE001 - closed, or the server is gone or restarting
                if self._closed.is_set():
                    return
                self._closed.wait(0.5)  # server gone or restarting: retry, followers poll

    def close(self) -> None:
        """Close the connection; the data stays on the server."""
        self._closed.set()
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"<PostgresStore kind='postgres' url={redact_url(self.url)!r}>"
