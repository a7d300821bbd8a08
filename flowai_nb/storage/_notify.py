"""Listener registry of the stores with push notifications (PostgreSQL, Redis).

Every such store publishes on one server channel, :data:`SERVER_CHANNEL`, with the
store channel (tenant-prefixed by :class:`~flowai_nb.storage.base.ScopedStore`) as
payload; one background thread per store object receives them and calls the
callbacks registered for that payload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Listeners", "SERVER_CHANNEL"]

SERVER_CHANNEL = "flowai_nb"
"""The PostgreSQL ``LISTEN`` channel / Redis pub/sub channel every notification uses."""


class Listeners:
    """Callbacks by channel; safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_channel: dict[str, list[Callable[[], None]]] = {}

    def add(self, channel: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Register ``callback`` for ``channel``; return the function that removes it."""
        with self._lock:
            self._by_channel.setdefault(channel, []).append(callback)

        def remove() -> None:
            with self._lock:
                callbacks = self._by_channel.get(channel, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return remove

    def fire(self, channel: str | None) -> None:
        """Call the callbacks of ``channel`` (all of them for ``None``: a missed stretch)."""
        with self._lock:
            if channel is None:
                callbacks = [cb for cbs in self._by_channel.values() for cb in cbs]
            else:
                callbacks = list(self._by_channel.get(channel, ()))
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a listener's failure must not stop the others
                pass
