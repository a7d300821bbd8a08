"""SQLite store: one file, stdlib ``sqlite3``, safe for threads and for several processes.

The file holds one table, ``kv(key TEXT PRIMARY KEY, value TEXT, expires_at INTEGER)``
(``expires_at`` in epoch milliseconds, NULL for "never"). The database runs in WAL
mode with ``synchronous=NORMAL``: every write is its own transaction, and an
acknowledged write survives a crash of the process (a power cut may lose the last
few commits; use a server store if that matters). Several processes may open the
same file; writers wait for each other (up to ``timeout`` seconds) instead of failing.
Needs SQLite 3.35 or newer (for ``RETURNING``), which Python 3.11 builds ship.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ._common import check_key, check_prefix, check_ttl, expiry, now_ms, prefix_end
from .base import KeyValueStore, Op, _check_ops, _split_read, decode, encode

__all__ = ["SqliteStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv ("
    "key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER)"
)
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_UPSERT = (
    "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
_ADD = _UPSERT + " WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?"


class SqliteStore(KeyValueStore):
    """A :class:`KeyValueStore` in a SQLite file (or ``":memory:"``).

    Args:
        path: the database file; missing parent folders are created.
        timeout: seconds a write waits for another process's write lock.
    """

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.path = str(Path(self.path).expanduser())
        conn = None
        try:
            conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise type(exc)(f"cannot open SQLite store at {self.path!r}: {exc}") from exc
        self._conn = conn
        self._lock = threading.Lock()

    def _run(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def get(self, key: str) -> Any | None:
        check_key(key)
        with self._lock:
            row = self._conn.execute(
                f"SELECT value FROM kv WHERE key = ? AND {_LIVE}", (key, now_ms())
            ).fetchone()
        return None if row is None else decode(row[0])

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        keys = [check_key(key) for key in keys]
        with self._lock:
            rows = dict(self._conn.execute(
                f"SELECT key, value FROM kv WHERE key IN ({', '.join('?' * len(keys))}) "
                f"AND {_LIVE}", (*keys, now_ms())).fetchall()) if keys else {}
        return [None if (text := rows.get(key)) is None else decode(text) for key in keys]

    def read(self, keys: Sequence[str],
             prefixes: Sequence[str] = ()) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        """The values at ``keys`` and the items under each prefix: one query."""
        keys = [check_key(key) for key in keys]
        now = now_ms()
        parts: list[str] = []
        params: list[Any] = []
        if keys:
            parts.append(f"SELECT 0, key, value FROM kv WHERE key IN "
                         f"({', '.join('?' * len(keys))}) AND {_LIVE}")
            params += [*keys, now]
        for i, prefix in enumerate(prefixes, 1):
            sql = f"SELECT {i}, key, value FROM kv WHERE key >= ? AND {_LIVE}"
            params += [check_prefix(prefix), now]
            if (end := prefix_end(prefix)) is not None:
                sql += " AND key < ?"
                params.append(end)
            parts.append(sql)
        if not parts:
            return [], []
        with self._lock:
            rows = self._conn.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 2",
                                      params).fetchall()
        return _split_read(keys, prefixes, rows)

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        check_key(key)
        self._run(_UPSERT, (key, encode(value), expiry(check_ttl(ttl_ms))))

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        check_key(key)
        text, ttl = encode(value), check_ttl(ttl_ms)
        now = now_ms()
        expires_at = None if ttl is None else now + ttl
        return self._run(_ADD, (key, text, expires_at, now)).rowcount == 1

    def write(self, ops: Iterable[Op]) -> bool:
        ops = _check_ops(ops)
        texts = [(op, key, None if op == "delete" else encode(value)) for op, key, value in ops]
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = now_ms()
                for op, key, text in texts:
                    if op == "delete":
                        conn.execute("DELETE FROM kv WHERE key = ?", (key,))
                    elif op == "put":
                        conn.execute(_UPSERT, (key, text, None))
                    elif conn.execute(_ADD, (key, text, None, now)).rowcount != 1:
                        conn.execute("ROLLBACK")
                        return False
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return True

    def delete(self, key: str) -> bool:
        check_key(key)
        with self._lock:
            rows = self._conn.execute(
                "DELETE FROM kv WHERE key = ? RETURNING expires_at", (key,)
            ).fetchall()
        return bool(rows) and (rows[0][0] is None or rows[0][0] > now_ms())

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return self._range(prefix, None)

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        return self._range(prefix, check_key(after))

    def _range(self, prefix: str, after: str | None) -> list[tuple[str, Any]]:
        """Live items under ``prefix`` (after the key ``after`` when given), in key order."""
        check_prefix(prefix)
        sql = f"SELECT key, value FROM kv WHERE key >= ? AND {_LIVE}"
        params: tuple[Any, ...] = (prefix, now_ms())
        if after is not None:
            sql += " AND key > ?"
            params += (after,)
        end = prefix_end(prefix)
        if end is not None:
            sql += " AND key < ?"
            params += (end,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY key", params).fetchall()
        return [(k, decode(v)) for k, v in rows]

    def close(self) -> None:
        """Close the connection; the data stays in the file."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"<SqliteStore kind='sqlite' path={self.path!r}>"
