"""Redis store (redis-py): each entry is one Redis string holding JSON text.

Expiry is Redis's own (``PX``), ``add`` is ``SET NX PX``, and prefix listing
is ``SCAN MATCH`` followed by ``MGET``. Point the URL at a database number you
give to flowai_nb (``redis://host:6379/3``): every key in it is visible to
:meth:`RedisStore.items`. How much survives a Redis restart is the server's
persistence setting (AOF/RDB), not the client's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

try:
    import redis
except ImportError as exc:  # pragma: no cover - exercised with the driver hidden
    raise ImportError(
        'the "redis" store needs redis-py; install it with: pip install "flowai_nb[redis]"'
    ) from exc

from ._common import check_key, check_prefix, check_ttl, redact_url
from ._notify import SERVER_CHANNEL, Listeners
from .base import KeyValueStore, Op, _split_notify, decode, encode

__all__ = ["RedisStore"]

_WRITE = """
for i, key in ipairs(KEYS) do
  if ARGV[2 * i - 1] == 'add' and redis.call('EXISTS', key) == 1 then return 0 end
end
for i, key in ipairs(KEYS) do
  local op = ARGV[2 * i - 1]
  if op == 'delete' then redis.call('DEL', key) else redis.call('SET', key, ARGV[2 * i]) end
end
return 1
"""

_GLOB_SPECIAL = {c: "\\" + c for c in "\\*?[]^-"}


def _glob_escape(text: str) -> str:
    return "".join(_GLOB_SPECIAL.get(c, c) for c in text)


class RedisStore(KeyValueStore):
    """A :class:`KeyValueStore` in a Redis database.

    Args:
        url: a ``redis://[user:password@]host:port/db`` (or ``rediss://``, ``unix://``) URL.

    The client's connection pool makes the store safe to share between threads.
    """

    kind = "redis"

    def __init__(self, url: str) -> None:
        self.url = url
        self._listeners: Listeners | None = None
        self._listen_lock = threading.Lock()
        self._closed = threading.Event()
        self._client = redis.Redis.from_url(url, decode_responses=True)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._client.close()
            raise redis.ConnectionError(
                f"cannot connect to the redis store at {redact_url(url)}: {exc}"
            ) from exc

    def get(self, key: str) -> Any | None:
        text = self._client.get(check_key(key))
        return None if text is None else decode(text)

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        keys = [check_key(key) for key in keys]
        texts = self._client.mget(keys) if keys else []
        return [None if text is None else decode(text) for text in texts]

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        self._client.set(check_key(key), encode(value), px=check_ttl(ttl_ms))

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        done = self._client.set(check_key(key), encode(value), px=check_ttl(ttl_ms), nx=True)
        return bool(done)

    def write(self, ops: Iterable[Op]) -> bool:
        ops, channels = _split_notify(ops)
        if ops:
            args: list[str] = []
            for op, _, value in ops:
                args += [op, "" if op == "delete" else encode(value)]
            keys = [key for _, key, _ in ops]
            if self._client.eval(_WRITE, len(keys), *keys, *args) != 1:
                return False
        for channel in channels:
            self._client.publish(SERVER_CHANNEL, channel)
        return True

    def listen(self, channel: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Redis pub/sub: ``callback`` runs when a write notifying ``channel`` succeeds
        (on a background thread with its own connection)."""
        with self._listen_lock:
            if self._listeners is None:
                self._listeners = Listeners()
                threading.Thread(target=self._listen_loop, args=(self._listeners,),
                                 name="flowai-redis-listen", daemon=True).start()
            return self._listeners.add(channel, callback)

    def _listen_loop(self, listeners: Listeners) -> None:
        while not self._closed.is_set():
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(SERVER_CHANNEL)
                try:
                    listeners.fire(None)  # anything written before the subscription
                    while not self._closed.is_set():
                        message = pubsub.get_message(timeout=0.5)
                        if message is not None and message.get("type") == "message":
                            listeners.fire(message["data"])
                finally:
                    pubsub.close()
            except Exception:  # noqa: BLE001 - closed, or the server is gone or restarting
                if self._closed.is_set():
                    return
                self._closed.wait(0.5)  # server gone or restarting: retry, followers poll

    def delete(self, key: str) -> bool:
        return self._client.delete(check_key(key)) == 1

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        pattern = _glob_escape(check_prefix(prefix)) + "*"
        keys = sorted(set(self._client.scan_iter(match=pattern, count=1000)))
        found: list[tuple[str, Any]] = []
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            values = self._client.mget(chunk)
            found += [(k, decode(v)) for k, v in zip(chunk, values, strict=True) if v is not None]
        return found

    def close(self) -> None:
        """Close the client's connections; the data stays on the server."""
        self._closed.set()
        self._client.close()

    def __repr__(self) -> str:
        return f"<RedisStore kind='redis' url={redact_url(self.url)!r}>"
