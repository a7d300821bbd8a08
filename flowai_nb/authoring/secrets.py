"""Secrets inside specs: API keys and passwords are pydantic ``SecretStr`` values.

A secret dumps as ``**********`` in ``model_dump``, ``model_dump_json``,
``repr`` and traces; code that needs the value calls :func:`reveal`. A URL
with a password becomes a :class:`SecretUrl`, whose repr keeps the rest of
the URL (``postgresql://app:**********@db:5432/sales``).

A spec that must carry a key to another process names an environment
variable instead: ``providers={"anthropic": {"apiKeyEnv": "ANTHROPIC_API_KEY"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ConfigDict, SecretStr

from ._base import SpecModel

__all__ = ["SecretUrl", "REDACTED", "SECRET_INPUTS", "hide_secrets", "reveal", "secret_url"]

REDACTED = "**********"
"""What a secret looks like once dumped."""

SECRET_INPUTS = ConfigDict(**{**SpecModel.model_config, "hide_input_in_errors": True})
"""``model_config`` of models whose inputs may hold a password: validation errors do not
echo the input (our own messages name the value with its password hidden)."""

_SECRET_SUFFIXES = ("apikey", "api_key", "password", "passwd", "secret", "token",
                    "authorization")
_URL_KEYS = frozenset({"url", "dsn", "base_url", "baseurl"})


class SecretUrl(SecretStr):
    """A connection URL holding a password; shows as the URL with ``**********`` for it."""

    def _display(self) -> str:  # type: ignore[override]
        parts = urlsplit(self.get_secret_value())
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        user = f"{parts.username}:" if parts.username else ":"
        return urlunsplit(parts._replace(netloc=f"{user}{REDACTED}@{host}"))


def _has_password(url: str) -> bool:
    try:
        return "://" in url and urlsplit(url).password is not None
    except ValueError:
        return False


def secret_url(value: Any) -> Any:
    """``value`` as a :class:`SecretUrl` when it is a URL string with a password."""
    if isinstance(value, str) and _has_password(value):
        return SecretUrl(value)
    return value


def hide_secrets(value: Any) -> Any:
    """A copy of ``value`` with every secret-named key's string as a ``SecretStr``.

    Keys ending in ``apiKey``/``api_key``, ``password``, ``secret``, ``token`` or
    ``authorization`` (any case: ``GITHUB_TOKEN``, ``client_secret``) become
    ``SecretStr`` (``apiKeyEnv``, naming a variable, stays plain); ``url``/``dsn``
    strings with a password become :class:`SecretUrl`. Mappings and lists are
    walked; anything else is kept.
    """
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = key.lower() if isinstance(key, str) else None
            if name is not None and name.endswith(_SECRET_SUFFIXES) and isinstance(item, str):
                out[key] = SecretStr(item)
            elif name in _URL_KEYS:
                out[key] = secret_url(item)
            else:
                out[key] = hide_secrets(item)
        return out
    if isinstance(value, list | tuple):
        return type(value)(hide_secrets(item) for item in value)
    return value


def reveal(value: Any) -> Any:
    """The plain value: ``SecretStr`` unwrapped, mappings and lists walked."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Mapping):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(reveal(item) for item in value)
    return value
