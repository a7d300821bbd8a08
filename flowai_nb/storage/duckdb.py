"""DuckDB store: table ``flowai_kv`` in a DuckDB file (or ``":memory:"``).

Handy when the data environment already keeps a DuckDB file. DuckDB's own index is used
for exact keys but not for key ranges, so the store keeps the sorted list of its keys in
memory (read once on open; one process owns the file, see below): a prefix read finds its
keys there and fetches them by key, costing O(matches) rather than a scan of the table.
Write ``flowai_kv`` only through the store. DuckDB lets only
ONE process open a database file at a time (threads inside that process are
fine), so a second kernel or script opening the same file fails with a clear
error; use the ``sqlite``, ``postgres`` or ``redis`` kinds to share a store
between processes. Every write is its own transaction, logged to DuckDB's WAL
before it returns; that makes writes slow next to SQLite (hundreds per second
rather than tens of thousands), so prefer ``sqlite`` for busy approval traffic.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from sortedcontainers import SortedList

from ._common import check_key, check_prefix, check_ttl, expiry, now_ms, prefix_end
from .base import KeyValueStore, Op, _check_ops, _guards_hold, _split_read, decode, encode

__all__ = ["DuckDBStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS flowai_kv ("
    "key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, expires_at BIGINT)"
)
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_UPSERT = (
    "INSERT INTO flowai_kv (key, value, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
_ADD = _UPSERT + " WHERE flowai_kv.expires_at IS NOT NULL AND flowai_kv.expires_at <= ?"


_ROWS_PER_UPSERT = 500


def _upsert_rows(count: int) -> str:
    """An upsert of ``count`` rows ``(key, value)`` without expiry."""
    return (f"INSERT INTO flowai_kv (key, value, expires_at) VALUES "
            f"{', '.join(['(?, ?, NULL)'] * count)} ON CONFLICT (key) DO UPDATE SET "
            f"value = excluded.value, expires_at = excluded.expires_at")


_LOOKUP_MAX = 256
"""Prefix reads matching more keys than this scan the key range instead: DuckDB answers
a long ``IN`` list key by key, slower than one pass over the table."""


def _prefix_query(columns: str, prefix: str, now: int, after: str | None,
                  found: list[str]) -> tuple[str, tuple[Any, ...]]:
    """``SELECT columns`` of the live rows under ``prefix`` (and after ``after``), whose
    keys are ``found``: looked up by key when they are few, else a range on the key
    (``prefix <= key < prefix_end``, which DuckDB's zone maps can prune)."""
    if len(found) <= _LOOKUP_MAX:
        return (f"SELECT {columns} FROM flowai_kv WHERE key IN "
                f"({', '.join('?' * len(found))}) AND {_LIVE}", (*found, now))
    sql = f"SELECT {columns} FROM flowai_kv WHERE key >= ? AND {_LIVE}"
    params: tuple[Any, ...] = (prefix, now)
    if after is not None:
        sql += " AND key > ?"
        params += (after,)
    if (end := prefix_end(prefix)) is not None:
        sql += " AND key < ?"
        params += (end,)
    return sql, params


class _Shared:
    """One connection per database file per process: DuckDB's own concurrency control
    rejects concurrent conflicting writes from two connections instead of waiting, so
    every store on one file funnels through a single connection and lock. ``keys`` is
    every key in the table (expired rows included), sorted; kept under ``lock``."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn, self.lock, self.users = conn, threading.Lock(), 0
        self.keys = SortedList(k for (k,) in conn.execute("SELECT key FROM flowai_kv").fetchall())

    def added(self, key: str) -> None:
        if key not in self.keys:
            self.keys.add(key)

    def removed(self, key: str) -> None:
        self.keys.discard(key)

    def under(self, prefix: str, after: str | None = None) -> list[str]:
        """The keys starting with ``prefix`` (and greater than ``after``), in order."""
        if after is not None and after >= prefix:
            return list(self.keys.irange(after, prefix_end(prefix), inclusive=(False, False)))
        return list(self.keys.irange(prefix, prefix_end(prefix), inclusive=(True, False)))


_OPEN: dict[str, _Shared] = {}
_OPEN_LOCK = threading.Lock()


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    try:
        conn = duckdb.connect(path)
    except duckdb.IOException as exc:
        raise duckdb.IOException(
            f"cannot open DuckDB store at {path!r}: {exc}. DuckDB allows one process per "
            "database file; use a 'sqlite', 'postgres' or 'redis' store to share state "
            "between processes."
        ) from exc
    conn.execute(_SCHEMA)
    return conn


class DuckDBStore(KeyValueStore):
    """A :class:`KeyValueStore` in a DuckDB database file (one process per file).

    Args:
        path: the database file, or ``":memory:"`` (a private in-memory database);
            missing parent folders are created.

    Stores opened on the same file in one process share one connection.
    """

    kind = "duckdb"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._closed = False
        if self.path == ":memory:":
            self._key = None
            self._shared = _Shared(_connect(self.path))
            return
        self.path = str(Path(self.path).expanduser())
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._key = os.path.realpath(self.path)
        with _OPEN_LOCK:
            shared = _OPEN.get(self._key)
            if shared is None:
                shared = _OPEN[self._key] = _Shared(_connect(self.path))
            shared.users += 1
        self._shared = shared

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._shared.lock:
            return self._shared.conn.execute(sql, params).fetchall()

    def get(self, key: str) -> Any | None:
        check_key(key)
        rows = self._fetch(f"SELECT value FROM flowai_kv WHERE key = ? AND {_LIVE}",
                           (key, now_ms()))
        return decode(rows[0][0]) if rows else None

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        check_key(key)
        params = (key, encode(value), expiry(check_ttl(ttl_ms)))
        with self._shared.lock:
            self._shared.conn.execute(_UPSERT, params)
            self._shared.added(key)

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        check_key(key)
        text, ttl = encode(value), check_ttl(ttl_ms)
        now = now_ms()
        with self._shared.lock:
            rows = self._shared.conn.execute(
                _ADD, (key, text, None if ttl is None else now + ttl, now)).fetchall()
            if rows[0][0] == 1:
                self._shared.added(key)
                return True
        return False

    def write(self, ops: Iterable[Op]) -> bool:
        """All ``ops`` in one transaction, as at most three statements (DuckDB's cost is
        per statement): the ``add`` guards' read, one ``DELETE``, one multi-row upsert.
        Ops apply in order, so an ``add`` after a ``delete`` of its key succeeds."""
        ops = _check_ops(ops)
        texts = [(op, key, None if op == "delete" else encode(value)) for op, key, value in ops]
        adds = list(dict.fromkeys(key for op, key, _ in texts if op == "add"))
        with self._shared.lock:
            conn = self._shared.conn
            conn.execute("BEGIN TRANSACTION")
            try:
                live: set[str] = set()
                if adds:
                    live = {k for (k,) in conn.execute(
                        f"SELECT key FROM flowai_kv WHERE key IN ({', '.join('?' * len(adds))})"
                        f" AND {_LIVE}", (*adds, now_ms())).fetchall()}
                if not _guards_hold(texts, live.__contains__):
                    conn.execute("ROLLBACK")
                    return False
                final = {key: text for _, key, text in texts}  # the last op wins; None: gone
                gone = [key for key, text in final.items() if text is None]
                rows = [(key, text) for key, text in final.items() if text is not None]
                if gone:
                    conn.execute(f"DELETE FROM flowai_kv WHERE key IN "
                                 f"({', '.join('?' * len(gone))})", gone)
                for start in range(0, len(rows), _ROWS_PER_UPSERT):
                    chunk = rows[start:start + _ROWS_PER_UPSERT]
                    conn.execute(_upsert_rows(len(chunk)),
                                 [x for key, text in chunk for x in (key, text)])
                conn.execute("COMMIT")
                for key in gone:
                    self._shared.removed(key)
                for key, _ in rows:
                    self._shared.added(key)
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
        return True

    def delete(self, key: str) -> bool:
        check_key(key)
        with self._shared.lock:
            rows = self._shared.conn.execute(
                "DELETE FROM flowai_kv WHERE key = ? RETURNING expires_at", (key,)).fetchall()
            self._shared.removed(key)
        return bool(rows) and (rows[0][0] is None or rows[0][0] > now_ms())

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return self._range(prefix, None)

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        return self._range(prefix, check_key(after))

    def _range(self, prefix: str, after: str | None) -> list[tuple[str, Any]]:
        """Live items under ``prefix`` (after the key ``after`` when given), in key order."""
        check_prefix(prefix)
        with self._shared.lock:
            found = self._shared.under(prefix, after)
            if not found:
                return []
            sql, params = _prefix_query("key, value", prefix, now_ms(), after, found)
            rows = self._shared.conn.execute(sql + " ORDER BY key", params).fetchall()
        return [(k, decode(v)) for k, v in rows]

    def read(self, keys: Sequence[str],
             prefixes: Sequence[str] = ()) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        """The values at ``keys`` and the items under each prefix: one query."""
        keys = [check_key(key) for key in keys]
        prefixes = [check_prefix(prefix) for prefix in prefixes]
        now = now_ms()
        parts: list[str] = []
        params: tuple[Any, ...] = ()
        if keys:
            parts.append(f"SELECT 0, key, value FROM flowai_kv WHERE key IN "
                         f"({', '.join('?' * len(keys))}) AND {_LIVE}")
            params += (*keys, now)
        with self._shared.lock:
            for i, prefix in enumerate(prefixes, 1):
                if found := self._shared.under(prefix):
                    sql, more = _prefix_query(f"{i}, key, value", prefix, now, None, found)
                    parts.append(sql)
                    params += more
            rows = self._shared.conn.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 2",
                                             params).fetchall() if parts else []
        return _split_read(keys, prefixes, rows)

    def close(self) -> None:
        """Release the connection (DuckDB checkpoints the file when the last one closes)."""
        if self._key is None:
            self._shared.conn.close()
            return
        with _OPEN_LOCK:
            if self._closed:
                return
            self._closed = True
            self._shared.users -= 1
            if self._shared.users == 0:
                del _OPEN[self._key]
                with self._shared.lock:
                    self._shared.conn.close()

    def __repr__(self) -> str:
        return f"<DuckDBStore kind='duckdb' path={self.path!r}>"
