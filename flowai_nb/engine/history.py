"""Conversation history of stateful agents: an append-only log per thread and agent.

Each finished invocation of a stateful agent appends the messages it added as one
chunk at ``history/<thread>/<agent>/<seq>`` (one small store write; earlier chunks
are never read back or rewritten). Reading concatenates the chunks in key order.
A runtime caches the conversations it has read or written, and on each read asks
the store only for chunks after the last one it knows, so a live thread costs the
same per turn at turn 1,000 as at turn 10, and a chunk appended by another process
is still seen.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ..storage.base import KeyValueStore, Op

__all__ = ["HistoryStore"]

_SEQ_DIGITS = 10
_CACHE_SIZE = 256
"""Conversations kept in memory per runtime (least recently used dropped first)."""


class _Log:
    __slots__ = ("messages", "last_key", "next_seq")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.last_key = ""
        self.next_seq = 0


class HistoryStore:
    """The stored conversations of one runtime's stateful agents."""

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store
        self._cache: OrderedDict[tuple[str, str], _Log] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<HistoryStore of {self._store!r}, {len(self._cache)} cached>"

    @staticmethod
    def _prefix(thread: str, agent: str) -> str:
        return f"history/{thread}/{agent}/"

    def read(self, thread: str, agent: str) -> list[dict[str, Any]]:
        """The conversation of ``agent`` on ``thread`` (a new list; oldest first)."""
        with self._lock:
            return list(self._refresh(thread, agent).messages)

    def append_ops(self, thread: str, agent: str,
                   messages: list[dict[str, Any]]) -> list[Op]:
        """The store write that appends ``messages`` (nothing for none); apply it with
        :meth:`appended` once committed."""
        if not messages:
            return []
        with self._lock:  # the cached position; a conflicting add re-reads the tail
            log = self._cache.get((thread, agent)) or self._refresh(thread, agent)
            key = f"{self._prefix(thread, agent)}{log.next_seq:0{_SEQ_DIGITS}d}"
        return [("add", key, messages)]

    def append(self, thread: str, agent: str, messages: list[dict[str, Any]]) -> None:
        """Append ``messages`` to the conversation (one small write).

        When another process appended first, the chunk goes after its chunks.
        """
        for _ in range(100):
            ops = self.append_ops(thread, agent, messages)
            if not ops or self._store.write(ops):
                self.appended(ops)
                return
            self.moved(ops)
        raise RuntimeError(f"could not append to the history of {agent!r} on thread "
                           f"{thread!r}: other writers kept appending first")

    def moved(self, ops: list[Op]) -> bool:
        """Whether another writer took a key of ``ops`` (from :meth:`append_ops`) first;
        if so, the cache is brought up to date so new ops go after that writer's chunk."""
        moved = False
        for _, key, _ in ops:
            if self._store.get(key) is not None:
                thread_agent = key[len("history/"):].rpartition("/")[0]
                thread, _, agent = thread_agent.rpartition("/")
                with self._lock:
                    self._refresh(thread, agent)
                moved = True
        return moved

    def appended(self, ops: list[Op]) -> None:
        """Record in the cache the chunk written by ``ops`` (from :meth:`append_ops`)."""
        for _, key, messages in ops:
            with self._lock:
                thread_agent, _, seq = key[len("history/"):].rpartition("/")
                thread, _, agent = thread_agent.rpartition("/")
                log = self._cache.get((thread, agent))
                if log is None or key <= log.last_key:
                    continue
                log.messages.extend(messages)
                log.last_key = key
                log.next_seq = int(seq) + 1

    def _refresh(self, thread: str, agent: str) -> _Log:
        """The cached log of ``(thread, agent)`` with any newer chunks read in."""
        cache_key = (thread, agent)
        log = self._cache.get(cache_key)
        prefix = self._prefix(thread, agent)
        if log is None:
            log = self._cache[cache_key] = _Log()
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            # one read: the whole log kept at ``history/<thread>/<agent>`` before chunks
            # existed, then the chunks (and other agents' keys sharing the prefix)
            rows = self._store.items(prefix[:-1])
            if rows and rows[0][0] == prefix[:-1]:
                if isinstance(rows[0][1], list):
                    log.messages.extend(rows[0][1])
                rows = rows[1:]
        else:
            self._cache.move_to_end(cache_key)
            rows = self._store.items_after(prefix, log.last_key or prefix)
        for key, chunk in rows:
            if not key.startswith(prefix):
                continue  # another agent whose name starts with this one's
            seq = key[len(prefix):]
            if len(seq) != _SEQ_DIGITS or not seq.isdigit():
                continue  # a deeper thread's key (``thread/agent/...``), not a chunk
            log.messages.extend(chunk)
            log.last_key = key
            log.next_seq = int(seq) + 1
        return log
