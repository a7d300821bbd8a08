"""The one storage interface every backend implements.

A :class:`KeyValueStore` maps string keys to JSON values. The engine keeps
references, pending approvals, paused runs, plans, conversation memory and
traces in stores of this shape, each scoped to a tenant with :meth:`scoped`.

The interface is synchronous on purpose: every backend here answers in well
under a millisecond on loopback, and a synchronous store can be used from sync
tool handlers, scripts and the event loop alike.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

from .._json import JSONValueError, dumps

__all__ = ["KeyValueStore", "ScopedStore", "Op", "encode", "decode"]

Op = tuple[Literal["put", "add", "delete", "notify"], str, Any]
"""One write of :meth:`KeyValueStore.write`: ``("put", key, value)``, ``("add", key, value)``
(only if absent), ``("delete", key, None)``, or ``("notify", channel, None)``: wake the
:meth:`KeyValueStore.listen` callbacks of ``channel`` in every process once the
transaction commits (a no-op on stores without push notifications)."""


def encode(value: Any) -> str:
    """Serialise ``value`` to compact JSON text (key order kept, no spaces) under the
    package's one JSON rule (NaN and infinities are stored as null).

    Raises:
        TypeError: naming the value's type when it is not JSON-serialisable.
    """
    try:
        return dumps(value, ensure_ascii=True, strict=True)
    except JSONValueError as exc:
        raise TypeError(
            f"store values must be JSON-serialisable; got {type(value).__name__}: {exc}"
        ) from exc


def decode(text: str | bytes) -> Any:
    """Inverse of :func:`encode`."""
    return json.loads(text)


class KeyValueStore(ABC):
    """A durable map of ``str`` keys to JSON values with optional expiry.

    Every method is atomic on its own. ``ttl_ms`` makes an entry invisible to
    every read once that many milliseconds have passed.
    """

    kind: str = "abstract"

    @abstractmethod
    def get(self, key: str) -> Any | None:
        """Return the value at ``key``, or ``None`` when absent or expired."""

    @abstractmethod
    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        """Store ``value`` at ``key``, replacing any previous value."""

    @abstractmethod
    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent (or expired).

        Returns ``True`` when this call stored the value. Atomic across
        processes sharing the backend: of two concurrent ``add`` calls for one
        key exactly one returns ``True``.
        """

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""

    @abstractmethod
    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        """Return ``(key, value)`` pairs whose key starts with ``prefix``, sorted by key."""

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        """The values at ``keys`` (``None`` where absent or expired), in order.

        One round trip on the server stores; this fallback calls :meth:`get` per key.
        """
        return [self.get(key) for key in keys]

    def read(self, keys: Sequence[str],
             prefixes: Sequence[str] = ()) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        """``(get_many(keys), [items(prefix) for prefix in prefixes])`` as one read.

        One round trip on the SQL stores; this fallback makes one call per part.
        """
        return self.get_many(keys), [self.items(prefix) for prefix in prefixes]

    def keys(self, prefix: str = "") -> list[str]:
        """Return the keys starting with ``prefix``, sorted."""
        return [k for k, _ in self.items(prefix)]

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        """Like :meth:`items`, only keys greater than ``after`` (for following a log).

        SQL backends answer from their key index; this fallback filters :meth:`items`.
        """
        return [(k, v) for k, v in self.items(prefix) if k > after]

    def write(self, ops: Iterable[Op]) -> bool:
        """Apply several writes as one transaction: all of them, or none.

        Ops apply in order: an ``add`` sees what the ops before it in the same write did
        (after a ``delete`` of its key it wins, after a ``put`` it loses). Returns
        ``False`` (and writes nothing) when an ``add`` finds its key present. Every
        backend here overrides this with a real transaction; this fallback (for
        third-party stores) applies the ops one by one.
        """
        ops = _check_ops(ops)
        if not _guards_hold(ops, lambda key: self.get(key) is not None):
            return False
        for op, key, value in ops:
            if op == "delete":
                self.delete(key)
            else:
                self.put(key, value)
        return True

    def listen(self, channel: str, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``callback`` (from a background thread) whenever a :meth:`write` with a
        ``("notify", channel, None)`` op commits, in any process sharing the store.

        Returns a function that stops listening, or ``None`` when this backend has no
        push notifications (followers then poll).
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store must not be used afterwards."""

    def scoped(self, namespace: str) -> ScopedStore:
        """A view of this store whose keys all live under ``namespace + '/'``."""
        return ScopedStore(self, namespace)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kind={self.kind!r}>"


class ScopedStore(KeyValueStore):
    """A prefix view of another store; used for tenant isolation."""

    def __init__(self, inner: KeyValueStore, namespace: str) -> None:
        if not namespace or namespace.startswith("/"):
            raise ValueError(f"namespace must be a non-empty relative name, got {namespace!r}")
        self._inner = inner
        self._prefix = namespace.rstrip("/") + "/"
        self.kind = inner.kind

    @property
    def inner(self) -> KeyValueStore:
        """The unscoped store underneath."""
        return self._inner

    def get(self, key: str) -> Any | None:
        return self._inner.get(self._prefix + key)

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        return self._inner.get_many([self._prefix + key for key in keys])

    def read(self, keys: Sequence[str],
             prefixes: Sequence[str] = ()) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        p, n = self._prefix, len(self._prefix)
        values, groups = self._inner.read([p + key for key in keys],
                                          [p + prefix for prefix in prefixes])
        return values, [[(k[n:], v) for k, v in group] for group in groups]

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        self._inner.put(self._prefix + key, value, ttl_ms=ttl_ms)

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        return self._inner.add(self._prefix + key, value, ttl_ms=ttl_ms)

    def delete(self, key: str) -> bool:
        return self._inner.delete(self._prefix + key)

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        n = len(self._prefix)
        return [(k[n:], v) for k, v in self._inner.items(self._prefix + prefix)]

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        n = len(self._prefix)
        return [(k[n:], v) for k, v in
                self._inner.items_after(self._prefix + prefix, self._prefix + after)]

    def write(self, ops: Iterable[Op]) -> bool:
        p = self._prefix
        return self._inner.write([(op, p + key, value)
                                  for op, key, value in _check_ops(ops, keep_notify=True)])

    def listen(self, channel: str, callback: Callable[[], None]) -> Callable[[], None] | None:
        return self._inner.listen(self._prefix + channel, callback)

    def scoped(self, namespace: str) -> ScopedStore:
        return ScopedStore(self._inner, self._prefix + namespace)

    def close(self) -> None:
        self._inner.close()

    def __repr__(self) -> str:
        return f"<ScopedStore {self._prefix!r} of {self._inner!r}>"


def _guards_hold(ops: Iterable[tuple[str, str, Any]], live: Callable[[str], bool]) -> bool:
    """Whether every ``add`` of ``ops`` finds its key absent, ops applying in order (an
    ``add`` after a ``delete`` of its key in the same write wins; after a ``put``, loses).
    ``live(key)`` tells whether a key is present before the write."""
    after: dict[str, bool] = {}  # key -> live after the ops so far
    for op, key, _ in ops:
        if op == "add" and (after[key] if key in after else live(key)):
            return False
        after[key] = op != "delete"
    return True


def _split_read(keys: Sequence[str], prefixes: Sequence[str], rows: Iterable[Sequence[Any]]
                ) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
    """The answer of :meth:`KeyValueStore.read` from ``(part, key, text)`` rows in part and
    key order: part 0 holds the exact ``keys``, part ``i`` the items of ``prefixes[i - 1]``."""
    found: dict[str, str] = {}
    groups: list[list[tuple[str, Any]]] = [[] for _ in prefixes]
    for part, key, text in rows:
        if part == 0:
            found[key] = text
        else:
            groups[part - 1].append((key, decode(text)))
    return [None if (text := found.get(key)) is None else decode(text) for key in keys], groups


def _check_ops(ops: Iterable[Op], *, keep_notify: bool = False) -> list[Op]:
    """``ops`` validated; ``notify`` ops dropped unless ``keep_notify``."""
    checked = list(ops)
    for op in checked:
        if not (isinstance(op, tuple) and len(op) == 3
                and op[0] in ("put", "add", "delete", "notify") and isinstance(op[1], str)):
            raise TypeError(f"a store write is ('put' | 'add' | 'delete' | 'notify', key: str, "
                            f"value); got {op!r}")
    if keep_notify:
        return checked
    return [op for op in checked if op[0] != "notify"]


def _split_notify(ops: Iterable[Op]) -> tuple[list[Op], list[str]]:
    """Validated data ops, and the channels of the ``notify`` ops."""
    checked = _check_ops(ops, keep_notify=True)
    return ([op for op in checked if op[0] != "notify"],
            [key for op, key, _ in checked if op == "notify"])
