"""The one clock of flowai_nb: wall-clock epoch milliseconds, replaceable in tests.

Every timestamp the package writes (events, approvals, plans, reference and
key-value expiry in the in-process stores) comes from :func:`now_ms`. Tests
swap the clock with :func:`use_clock` and a :class:`ManualClock` instead of
sleeping::

    clock = ManualClock()
    with use_clock(clock):
        store.put("k", 1, ttl_ms=10)
        clock.advance(11)
        assert store.get("k") is None

Servers keep their own time: PostgreSQL and Redis stores expire entries by the
server's clock, which this one does not move.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["now_ms", "use_clock", "ManualClock"]


_time_ns = time.time_ns
_clock: Callable[[], int] | None = None  # None: the wall clock (the hot path: one call)


def _wall_ms() -> int:
    return _time_ns() // 1_000_000


def now_ms() -> int:
    """Milliseconds since the epoch, from the current clock (the wall clock by default)."""
    clock = _clock
    return _time_ns() // 1_000_000 if clock is None else clock()


@contextmanager
def use_clock(clock: Callable[[], int]) -> Iterator[Callable[[], int]]:
    """Make ``clock`` (a callable returning epoch ms) the package's clock inside the block."""
    global _clock
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning epoch milliseconds; got {clock!r}")
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous


class ManualClock:
    """A clock that stands still until :meth:`advance` moves it (thread-safe).

    Args:
        start_ms: the first reading; defaults to the wall clock at creation.
    """

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = _wall_ms() if start_ms is None else int(start_ms)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        """Move the clock ``ms`` milliseconds forward (never back); return the new reading."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            raise ValueError(f"advance takes a non-negative int of milliseconds; got {ms!r}")
        with self._lock:
            self._now += ms
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now_ms={self._now})"
