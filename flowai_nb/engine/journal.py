"""The run journal (SPEC §5.2): every run's events, in order, in the tenant's store.

Layout (keys inside the tenant namespace):

- ``journal/<run id>/<first seq, 10 digits>``: one chunk, ``{"runId", "threadId",
  "events": [...]}``. A chunk holds the events recorded since the previous one;
  a run of text (or reasoning) deltas of one agent is coalesced into one item
  ``["~", type, agent, parentId, first seq, ts, [delta, ...], [ts offset, ...]]``, so streaming
  text costs no store write per delta.
- ``journal-runs/<first write, ns, 19 digits>/<run id>`` and
  ``journal-threads/<thread>/<first write ns>/<run id>``: ``{"runId", "threadId"}``,
  written with a run's first chunk, so followers find new runs without scanning.

A chunk is written in the same store transaction as the state change its last
event reports (see :meth:`~flowai_nb.engine.run.Run.commit`); between state
changes, pending events are flushed at least every :data:`FLUSH_SECONDS`.
:class:`Subscription` replays a journal and follows it live, from memory when
the run executes in this process and from the store otherwise: another process's
writes wake it through the store's notifications (PostgreSQL ``LISTEN``/``NOTIFY``,
Redis pub/sub), or it polls every :data:`POLL_SECONDS` (SQLite, DuckDB).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..storage.base import KeyValueStore, Op
from .events import DELTA_TYPES

__all__ = ["Journal", "Subscription", "FLUSH_SECONDS", "POLL_SECONDS", "PUSHED_POLL_SECONDS",
           "JOURNAL_NOTICE"]

FLUSH_SECONDS = 0.05
"""Longest time a recorded event waits before it is written to the journal."""

POLL_SECONDS = 0.1
"""How often a follower reads the store for events written by another process (SQLite,
DuckDB, memory: stores without push notifications)."""

PUSHED_POLL_SECONDS = 1.0
"""The follower's safety-net poll on stores that push a notice with every journal write
(PostgreSQL ``LISTEN``/``NOTIFY``, Redis pub/sub): the notice wakes it at once."""

JOURNAL_NOTICE: Op = ("notify", "journal", None)
"""The op, written with every journal chunk, that wakes followers in other processes."""


def compact(events: list[dict[str, Any]]) -> list[Any]:
    """Events as stored in a chunk: runs of deltas of one agent coalesced."""
    items: list[Any] = []
    last: list[Any] | None = None
    for event in events:
        etype = event["type"]
        if etype in DELTA_TYPES:
            parent = event.get("parentId")
            if last is not None and last[1] == etype and last[2] == event["agent"] \
                    and last[3] == parent:
                last[6].append(event["delta"])
                last[7].append(event["ts"] - last[5])
                continue
            last = ["~", etype, event["agent"], parent, event["seq"], event["ts"],
                    [event["delta"]], [0]]
            items.append(last)
            continue
        last = None
        items.append(event)
    return items


def expand(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a stored chunk, in order (inverse of :func:`compact`)."""
    run_id, thread_id = chunk["runId"], chunk["threadId"]
    events: list[dict[str, Any]] = []
    for item in chunk["events"]:
        if isinstance(item, dict):
            events.append(item)
            continue
        _, etype, agent, parent, seq, ts, deltas, offsets = item
        for i, delta in enumerate(deltas):
            event = {"type": etype, "runId": run_id, "threadId": thread_id, "seq": seq + i,
                     "ts": ts + offsets[i], "agent": agent}
            if parent is not None:
                event["parentId"] = parent
            event["delta"] = delta
            events.append(event)
    return events


class Journal:
    """Reads and writes the journal of one tenant's runs."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    @staticmethod
    def ops(run_id: str, thread_id: str, events: list[dict[str, Any]]) -> list[Op]:
        """The store writes that append ``events`` (in seq order) to a run's journal."""
        if not events:
            return []
        first = events[0]
        ops: list[Op] = [("put", f"journal/{run_id}/{first['seq']:010d}",
                          {"runId": run_id, "threadId": thread_id, "events": compact(events)})]
        if first["seq"] == 0:
            entry = {"runId": run_id, "threadId": thread_id}
            at = f"{time.time_ns():019d}"
            ops.append(("put", f"journal-runs/{at}/{run_id}", entry))
            ops.append(("put", f"journal-threads/{thread_id}/{at}/{run_id}", entry))
        return ops

    def read(self, run_id: str, since_seq: int = 0) -> list[dict[str, Any]]:
        """The stored events of a run with ``seq >= since_seq``, in order."""
        return self.events_of(self._kv.items(self.prefix(run_id)), since_seq)

    @staticmethod
    def prefix(run_id: str) -> str:
        """The key prefix of a run's journal chunks."""
        return f"journal/{run_id}/"

    @staticmethod
    def events_of(items: list[tuple[str, Any]], since_seq: int = 0) -> list[dict[str, Any]]:
        """The events (``seq >= since_seq``) of chunks read under :meth:`prefix`, in order."""
        events: list[dict[str, Any]] = []
        for _, chunk in items:
            events += expand(chunk)
        return [e for e in events if e["seq"] >= since_seq] if since_seq else events

    def runs(self, thread_id: str | None = None, after: str = "") -> list[tuple[str, str, str]]:
        """``(index key, run id, thread id)`` of runs started after index key ``after``,
        oldest first (all runs, or one thread's)."""
        prefix = "journal-runs/" if thread_id is None else f"journal-threads/{thread_id}/"
        rows = self._kv.items_after(prefix, after) if after else self._kv.items(prefix)
        return [(key, entry["runId"], entry["threadId"]) for key, entry in rows]


class Subscription(AsyncIterator[dict[str, Any]]):
    """``runtime.subscribe(...)``: replay a journal, then follow it live.

    - ``run_id``: that run's events from ``since_seq`` (default 0); ends after its
      ``run-finish``.
    - ``thread_id``: every run of that thread, oldest first, then new ones as they
      start; never ends by itself.
    - neither: every run that starts from now on (plus runs executing in this
      process); never ends by itself.

    Any number of subscriptions can follow one run; none of them slows it (they
    read what the run recorded, never hold it up). Close one with
    :meth:`aclose` or by leaving ``async for``.
    """

    def __init__(self, journal: Journal, live: dict[str, Any], run_id: str | None,
                 thread_id: str | None, since_seq: int | None,
                 wake: Callable[[str | None], asyncio.Future[None]],
                 pushed: bool = False) -> None:
        self._journal = journal
        self._poll_seconds = PUSHED_POLL_SECONDS if pushed else POLL_SECONDS
        self._live = live
        self._wake = wake
        self.run_id = run_id
        self.thread_id = thread_id
        self._cursors: dict[str, int] = {}  # run id -> next seq
        self._finished: set[str] = set()
        self._buffer: deque[dict[str, Any]] = deque()
        self._index_after = ""
        self._closed = False
        if run_id is not None:
            self._cursors[run_id] = since_seq or 0
        elif thread_id is None:  # all runs: only those starting from now on
            self._index_after = f"journal-runs/{time.time_ns():019d}"
            for run in list(live.values()):
                self._cursors.setdefault(run.id, 0)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._buffer:
            if self._closed or (self.run_id is not None and self.run_id in self._finished):
                raise StopAsyncIteration
            if not self._poll():
                await self._wait()
        return self._buffer.popleft()

    def _poll(self) -> bool:
        """Collect new events into the buffer; return whether any arrived."""
        if self.run_id is None:
            self._discover()
        for run_id, cursor in list(self._cursors.items()):
            if run_id in self._finished:
                continue
            new = self._new_events(run_id, cursor)
            if new:
                self._cursors[run_id] = new[-1]["seq"] + 1
                self._buffer.extend(new)
                if new[-1]["type"] == "run-finish":
                    self._finished.add(run_id)
        return bool(self._buffer)

    def _discover(self) -> None:
        for key, run_id, _ in self._journal.runs(self.thread_id, self._index_after):
            self._index_after = key
            self._cursors.setdefault(run_id, 0)
        for run in list(self._live.values()):
            if self.thread_id is None or run.thread_id == self.thread_id:
                self._cursors.setdefault(run.id, 0)

    def _new_events(self, run_id: str, cursor: int) -> list[dict[str, Any]]:
        run = self._live.get(run_id)
        if run is not None:
            events = run.trace.events
            if len(events) > cursor and events[cursor]["seq"] == cursor:
                return events[cursor:]
            if len(events) <= cursor and events and events[-1]["seq"] == len(events) - 1:
                return []
        return self._journal.read(run_id, cursor)

    async def _wait(self) -> None:
        future = self._wake(self.run_id)
        try:
            await asyncio.wait_for(asyncio.shield(future), self._poll_seconds)
        except TimeoutError:
            pass

    async def aclose(self) -> None:
        """Stop following."""
        self._closed = True

    def __repr__(self) -> str:
        what = (f"run={self.run_id!r}" if self.run_id else
                f"thread={self.thread_id!r}" if self.thread_id else "all runs")
        return f"<Subscription {what} runs={len(self._cursors)} closed={self._closed}>"
