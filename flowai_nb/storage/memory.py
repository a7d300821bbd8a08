"""In-process store: a dict behind a lock. Fast, and gone when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sortedcontainers import SortedList

from ._common import check_key, check_prefix, check_ttl, expiry, now_ms, prefix_end
from .base import KeyValueStore, Op, _check_ops, _guards_hold, decode, encode

__all__ = ["MemoryStore"]


class MemoryStore(KeyValueStore):
    """A thread-safe in-memory :class:`KeyValueStore`.

    Values are kept as JSON text, so what you read back is a fresh copy with
    the same JSON semantics as the persistent backends (tuples come back as
    lists, dict keys as strings). Nothing survives the process.
    """

    kind = "memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, int | None]] = {}
        self._keys = SortedList()  # prefix listings read only their range
        self._lock = threading.Lock()

    def _set(self, key: str, entry: tuple[str, int | None]) -> None:
        if key not in self._data:
            self._keys.add(key)
        self._data[key] = entry

    def _drop(self, key: str) -> None:
        if self._data.pop(key, None) is not None:
            self._keys.remove(key)

    def _live(self, key: str, now: int) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        text, expires_at = entry
        if expires_at is not None and expires_at <= now:
            self._drop(key)
            return None
        return text

    def get(self, key: str) -> Any | None:
        check_key(key)
        with self._lock:
            text = self._live(key, now_ms())
        return None if text is None else decode(text)

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        check_key(key)
        entry = (encode(value), expiry(check_ttl(ttl_ms)))
        with self._lock:
            self._set(key, entry)

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        check_key(key)
        text, expires_at = encode(value), check_ttl(ttl_ms)
        with self._lock:
            now = now_ms()
            if self._live(key, now) is not None:
                return False
            self._set(key, (text, None if expires_at is None else now + expires_at))
            return True

    def write(self, ops: Iterable[Op]) -> bool:
        ops = _check_ops(ops)
        texts = [(op, key, None if op == "delete" else encode(value)) for op, key, value in ops]
        with self._lock:
            now = now_ms()
            if not _guards_hold(texts, lambda key: self._live(key, now) is not None):
                return False
            for _op, key, text in texts:
                if text is None:
                    self._drop(key)
                else:
                    self._set(key, (text, None))
        return True

    def delete(self, key: str) -> bool:
        check_key(key)
        with self._lock:
            existed = self._live(key, now_ms()) is not None
            self._drop(key)
            return existed

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        check_prefix(prefix)
        with self._lock:
            now = now_ms()
            in_range = list(self._keys.irange(prefix, prefix_end(prefix),
                                              inclusive=(True, False)))
            found = [(k, text) for k in in_range if (text := self._live(k, now)) is not None]
        return [(k, decode(text)) for k, text in found]

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        check_prefix(prefix)
        check_key(after)
        with self._lock:
            now = now_ms()
            in_range = list(self._keys.irange(max(after, prefix), prefix_end(prefix),
                                              inclusive=(after < prefix, False)))
            found = [(k, text) for k in in_range if (text := self._live(k, now)) is not None]
        return [(k, decode(text)) for k, text in found]

    def __repr__(self) -> str:
        return f"<MemoryStore kind='memory' entries={len(self._data)}>"
