"""Keep secrets out of everything a run produces (SPEC §16).

:func:`redact` removes database URL passwords (``scheme://user:***@host``),
``password=...`` settings and every secret registered with
:func:`register_secret` from a text. Error messages that reach a model, an
event, a trace, a widget, a log or an exception pass through it.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, unquote, urlsplit

__all__ = ["MASK", "redact", "redacted_error", "register_secret", "register_url_secrets"]

MASK = "***"
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\"'<>]*):(?P<pw>[^@\s\"'<>]+)@")
_SETTING = re.compile(r"(?P<head>\bpassword\s*[=:]\s*)(?P<pw>'[^']*'|\"[^\"]*\"|[^\s,;&\"']+)",
                      re.IGNORECASE)
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Redact ``secret`` (and its URL-encoded / decoded forms) from every later :func:`redact`.

    Secrets shorter than 6 characters are not registered (they would mask ordinary text);
    URL and ``password=`` patterns still cover them.
    """
    if not secret:
        return
    forms = {secret, quote(secret, safe=""), unquote(secret)}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= 6)


def register_url_secrets(*urls: str | None) -> None:
    """:func:`register_secret` the password of each URL that has one."""
    for url in urls:
        if isinstance(url, str) and "@" in url:
            try:
                register_secret(urlsplit(url).password)
            except ValueError:  # an unparseable URL: the URL pattern still applies
                continue


def redacted_error(exc: BaseException) -> BaseException:
    """``exc`` itself when its message holds no secret, else a new exception of the same
    type (or ``ConnectionError``) with the secrets masked and no link to the original."""
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a hostile __str__
        return exc
    clean = redact(message)
    if clean == message:
        return exc
    try:
        replacement = type(exc)(clean)
    except Exception:  # noqa: BLE001 - an exception type with another constructor
        replacement = ConnectionError(clean)
    if str(replacement) != clean:
        replacement = ConnectionError(clean)
    return replacement


def redact(text: str) -> str:
    """``text`` with URL passwords, ``password=`` values and registered secrets masked."""
    if not isinstance(text, str):
        text = str(text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _SETTING.sub(lambda m: f"{m['head']}{MASK}", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
