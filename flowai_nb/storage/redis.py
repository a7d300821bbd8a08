"""Redis store (redis-py): each entry is one Redis string holding JSON text.

Prefix reads are answered from a key index: one sorted set (every member scored 0,
so it is ordered by key bytes) that every write updates in the same atomic script.
``items(prefix)`` is one ``ZRANGEBYLEX`` over ``[prefix, prefix_end)`` plus the
values, so it costs O(matches), not O(keys in the database). Expiry is Redis's own
(``PX``): an index entry may outlive its expired key; reads skip it and drop it, and
every write drops a few whose expiry has passed. A database written before the index
existed is indexed once, by the first store that opens it (one ``SCAN``).

Point the URL at a database number you give to flowai_nb (``redis://host:6379/3``):
keys starting with ``"\\x00flowai_nb/"`` are the store's own. Needs Redis 6.0 or newer,
not Redis Cluster (one transaction touches keys in many hash slots). How much survives
a Redis restart is the server's persistence setting (AOF/RDB), not the client's.
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

from ._common import check_key, check_prefix, check_ttl, prefix_end, redact_url
from ._notify import SERVER_CHANNEL, Listeners
from .base import KeyValueStore, Op, _split_notify, _split_read, decode, encode

__all__ = ["RedisStore"]

_OWN = "\x00flowai_nb/"
_INDEX = _OWN + "keys"  # sorted set, score 0: every stored key
_EXPIRING = _OWN + "expiring"  # sorted set: keys written with a ttl, scored by expiry (ms)
_INDEXED = _OWN + "indexed"  # set once the keys present before the index are in it

# KEYS: index, expiring, then the written keys. ARGV: the server channel, the number of
# notified channels, those channels, then (op, value, ttl or '') per written key.
# All or nothing: an 'add' whose key exists (and has not expired) aborts before any write.
_WRITE = """
local idx, exp = KEYS[1], KEYS[2]
local base = 2 + tonumber(ARGV[2])
local after = {}  -- key -> whether it is live after the ops so far: ops apply in order
for i = 3, #KEYS do
  local op, key = ARGV[base + 3 * (i - 3) + 1], KEYS[i]
  if op == 'add' then
    local live = after[key]
    if live == nil then live = redis.call('EXISTS', key) == 1 end
    if live then return 0 end
  end
  after[key] = op ~= 'delete'
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #KEYS do
  local a, key = base + 3 * (i - 3), KEYS[i]
  if ARGV[a + 1] == 'delete' then
    redis.call('DEL', key)
    redis.call('ZREM', idx, key)
    redis.call('ZREM', exp, key)
  else
    local ttl = ARGV[a + 3]
    if ttl == '' then
      redis.call('SET', key, ARGV[a + 2])
      redis.call('ZREM', exp, key)
    else
      redis.call('SET', key, ARGV[a + 2], 'PX', ttl)
      redis.call('ZADD', exp, now + tonumber(ttl), key)
    end
    redis.call('ZADD', idx, 0, key)
  end
end
for _, key in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 16)) do
  local left = redis.call('PTTL', key)
  if left == -2 then
    redis.call('ZREM', idx, key)
    redis.call('ZREM', exp, key)
  elseif left == -1 then
    redis.call('ZREM', exp, key)
  else
    redis.call('ZADD', exp, now + left, key)
  end
end
for c = 3, base do redis.call('PUBLISH', ARGV[1], ARGV[c]) end
return 1
"""

# KEYS: the index. ARGV: the number n of exact keys, those keys, then (min, max) lex bounds
# per prefix. Returns {values of the keys}, then {key, value, key, value...} per prefix;
# index entries whose key is gone (expired) are dropped on the way.
_READ = """
local idx = KEYS[1]
local n = tonumber(ARGV[1])
local function value(key)
  local v = redis.pcall('GET', key)
  if type(v) == 'table' then return false end
  return v
end
local values = {}
for i = 2, n + 1 do values[i - 1] = value(ARGV[i]) end
local out = {values}
for r = n + 2, #ARGV, 2 do
  local found = {}
  for _, key in ipairs(redis.call('ZRANGEBYLEX', idx, ARGV[r], ARGV[r + 1])) do
    local v = value(key)
    if v then
      found[#found + 1] = key
      found[#found + 1] = v
    else
      redis.call('ZREM', idx, key)
    end
  end
  out[#out + 1] = found
end
return out
"""


def _check(key: object) -> str:
    key = check_key(key)
    if key.startswith(_OWN):
        raise ValueError(f"keys starting with {_OWN!r} are the redis store's own; got {key!r}")
    return key


def _bounds(prefix: str, after: str | None = None) -> list[str]:
    """``ZRANGEBYLEX`` min and max selecting the keys under ``prefix`` (greater than
    ``after`` when given)."""
    low = "-" if not prefix else "[" + prefix
    if after is not None and after >= prefix:
        low = "(" + after
    end = prefix_end(prefix)
    return [low, "+" if end is None else "(" + end]


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
        self._write_script = self._client.register_script(_WRITE)
        self._read_script = self._client.register_script(_READ)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._client.close()
            raise redis.ConnectionError(
                f"cannot connect to the redis store at {redact_url(url)}: {exc}"
            ) from exc
        try:
            self._index_existing_keys()
        except BaseException:
            self._client.close()
            raise

    def get(self, key: str) -> Any | None:
        text = self._client.get(_check(key))
        return None if text is None else decode(text)

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        keys = [_check(key) for key in keys]
        texts = self._client.mget(keys) if keys else []
        return [None if text is None else decode(text) for text in texts]

    def read(self, keys: Sequence[str],
             prefixes: Sequence[str] = ()) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        """The values at ``keys`` and the items under each prefix: one round trip."""
        keys = [_check(key) for key in keys]
        bounds = [b for prefix in prefixes for b in _bounds(check_prefix(prefix))]
        return self._read(keys, prefixes, bounds)

    def _read(self, keys: list[str], prefixes: Sequence[str], bounds: list[str]
              ) -> tuple[list[Any | None], list[list[tuple[str, Any]]]]:
        if not keys and not bounds:
            return [], []
        values, *groups = self._read_script(keys=[_INDEX], args=[len(keys), *keys, *bounds])
        rows = [(0, key, text) for key, text in zip(keys, values, strict=True) if text is not None]
        rows += [(part, flat[i], flat[i + 1]) for part, flat in enumerate(groups, 1)
                 for i in range(0, len(flat), 2)]
        return _split_read(keys, prefixes, rows)

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        self._write([("put", _check(key), encode(value), check_ttl(ttl_ms))], [])

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        return self._write([("add", _check(key), encode(value), check_ttl(ttl_ms))], [])

    def write(self, ops: Iterable[Op]) -> bool:
        ops, channels = _split_notify(ops)
        return self._write([(op, _check(key), "" if op == "delete" else encode(value), None)
                            for op, key, value in ops], channels)

    def _write(self, ops: list[tuple[str, str, str, int | None]], channels: list[str]) -> bool:
        """One atomic script: the ops (each ``(op, key, text, ttl_ms)``), the index, the
        notifications. False (nothing written) when an ``add`` finds its key present."""
        if not ops and not channels:
            return True
        args: list[Any] = [SERVER_CHANNEL, len(channels), *channels]
        for op, _, text, ttl in ops:
            args += [op, text, "" if ttl is None else ttl]
        keys = [_INDEX, _EXPIRING, *(key for _, key, _, _ in ops)]
        return self._write_script(keys=keys, args=args) == 1

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
        key = _check(key)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(key).zrem(_INDEX, key).zrem(_EXPIRING, key)
            return pipe.execute()[0] == 1

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return self._read([], [prefix], _bounds(check_prefix(prefix)))[1][0]

    def items_after(self, prefix: str, after: str) -> list[tuple[str, Any]]:
        return self._read([], [prefix], _bounds(check_prefix(prefix), check_key(after)))[1][0]

    def _index_existing_keys(self) -> None:
        """Put the keys written before the index existed into it, once per database.

        Safe with concurrent openers and writers: adding a key twice is a no-op, and an
        entry for a key deleted meanwhile is dropped by the next read that meets it.
        """
        if self._client.exists(_INDEXED):
            return
        batch: list[str] = []
        for key in self._client.scan_iter(count=1000, _type="string"):
            if not key.startswith(_OWN):
                batch.append(key)
            if len(batch) >= 1000:
                self._client.zadd(_INDEX, dict.fromkeys(batch, 0))
                batch = []
        if batch:
            self._client.zadd(_INDEX, dict.fromkeys(batch, 0))
        self._client.set(_INDEXED, "1")

    def close(self) -> None:
        """Close the client's connections; the data stays on the server."""
        self._closed.set()
        self._client.close()

    def __repr__(self) -> str:
        return f"<RedisStore kind='redis' url={redact_url(self.url)!r}>"
