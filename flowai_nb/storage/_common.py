"""Small helpers shared by the store backends (argument checks, clocks, redaction)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._clock import now_ms


def check_key(key: object) -> str:
    """Return ``key`` if it is a ``str``; raise TypeError naming its type otherwise."""
    if not isinstance(key, str):
        raise TypeError(f"store keys must be str; got {type(key).__name__}: {key!r}")
    return key


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is a ``str``; raise TypeError naming its type otherwise."""
    if not isinstance(prefix, str):
        raise TypeError(f"key prefixes must be str; got {type(prefix).__name__}: {prefix!r}")
    return prefix


def check_ttl(ttl_ms: object) -> int | None:
    """Return ``ttl_ms`` if it is ``None`` or a positive int; raise ValueError otherwise."""
    if ttl_ms is None:
        return None
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
        raise ValueError(
            f"ttl_ms must be a positive number of milliseconds or None; got {ttl_ms!r}"
        )
    return ttl_ms


def expiry(ttl_ms: int | None) -> int | None:
    """Absolute expiry in epoch milliseconds for a checked ``ttl_ms`` (None: never)."""
    return None if ttl_ms is None else now_ms() + ttl_ms


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    Code-point order equals UTF-8 byte order, so ``prefix <= key < prefix_end(prefix)``
    selects exactly the keys starting with ``prefix`` in a binary-collated index,
    without LIKE/GLOB and their wildcard characters. ``None`` means "no upper bound".
    """
    while prefix:
        nxt = ord(prefix[-1]) + 1
        if nxt <= 0x10FFFF:
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates never occur in stored keys
                nxt = 0xE000
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for reprs and error messages)."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "password" for k, _ in query):
        redacted = [(k, "***" if k == "password" else v) for k, v in query]
        parts = parts._replace(query=urlencode(redacted, safe="*"))
    return urlunsplit(parts)
