"""Keep secrets out of everything a run produces (SPEC §16).

:func:`redact` removes database URL passwords (``scheme://user:***@host``),
``password=...`` settings and every secret registered with
:func:`register_secret` from a text. Error messages that reach a model, an
event, a trace, a widget, a log or an exception pass through it.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, unquote

__all__ = ["MASK", "redact", "register_secret"]

MASK = "***"
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\"'<>]*):(?P<pw>[^@\s\"'<>]+)@")
_SETTING = re.compile(r"(?P<head>\bpassword\s*[=:]\s*)(?P<pw>'[^']*'|\"[^\"]*\"|[^\s,;&\"']+)",
                      re.IGNORECASE)
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Redact ``secret`` (and its URL-encoded / decoded forms) from every later :func:`redact`.

    Secrets shorter than 4 characters are not registered (they would mask ordinary text);
    URL and ``password=`` patterns still cover them.
    """
    if not secret:
        return
    forms = {secret, quote(secret, safe=""), unquote(secret)}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= 4)


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
