"""PostgreSQL store (psycopg 3): one table, shared safely by any number of processes.

The table ``flowai_kv(key TEXT COLLATE "C" PRIMARY KEY, value TEXT, expires_at BIGINT)``
is created if missing. Expiry uses the server's clock, so clients on machines
with skewed clocks agree on what has expired. Each call is one autocommitted
statement; ``add`` is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
expired``, so of several concurrent ``add`` calls exactly one wins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

try:
    import psycopg
    from psycopg import errors as pg_errors
except ImportError as exc:  # pragma: no cover - exercised with the driver hidden
    raise ImportError(
        'the "postgres" store needs psycopg 3; install it with: pip install "flowai_nb[postgres]"'
    ) from exc

from ._common import check_key, check_prefix, check_ttl, prefix_end, redact_url
from .base import KeyValueStore, Op, _check_ops, decode, encode

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


class _AddConflict(Exception):
    """Rolls back a :meth:`PostgresStore.write` whose ``add`` found its key present."""


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
        self._conn = self._connect()
        try:
            self._conn.execute(_SCHEMA)
        except (pg_errors.UniqueViolation, pg_errors.DuplicateTable, pg_errors.DuplicateObject):
            pass  # another process created the table at the same moment

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise psycopg.OperationalError(
                f"cannot connect to the postgres store at {redact_url(self.url)}: {exc}"
            ) from exc

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

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        check_key(key)
        self._fetch(_UPSERT, (key, encode(value), check_ttl(ttl_ms)))

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        check_key(key)
        _, count = self._fetch(_ADD, (key, encode(value), check_ttl(ttl_ms)))
        return count == 1

    def write(self, ops: Iterable[Op]) -> bool:
        ops = _check_ops(ops)
        texts = [(op, key, None if op == "delete" else encode(value)) for op, key, value in ops]
        with self._lock:
            if self._conn.broken:
                self._conn = self._connect()
            try:
                with self._conn.transaction():
                    with self._conn.cursor() as cur:
                        for op, key, text in texts:
                            if op == "delete":
                                cur.execute("DELETE FROM flowai_kv WHERE key = %s", (key,))
                            elif op == "put":
                                cur.execute(_UPSERT, (key, text, None))
                            else:
                                cur.execute(_ADD, (key, text, None))
                                if cur.rowcount != 1:
                                    raise _AddConflict()
            except _AddConflict:
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

    def close(self) -> None:
        """Close the connection; the data stays on the server."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"<PostgresStore kind='postgres' url={redact_url(self.url)!r}>"
