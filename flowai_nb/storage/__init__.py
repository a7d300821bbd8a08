"""Key-value stores behind references, approvals, paused runs, plans and memory.

Open one from a descriptor::

    from flowai_nb.storage import open_store

    store = open_store({"kind": "sqlite", "path": "kv.db"})
    store.put("greeting", {"text": "hi"}, ttl_ms=60_000)
    tenant = store.scoped("acme")          # keys live under "acme/"

Kinds and their config keys:

========  =================================  ==========================================
kind      config                             shared between processes
========  =================================  ==========================================
memory    (none)                             no (one process, gone when it ends)
sqlite    ``path``                           yes (WAL file locking)
duckdb    ``path`` (or ``":memory:"``)       no: DuckDB allows one process per file
postgres  ``url`` (``postgresql://...``)     yes; needs ``pip install "flowai_nb[postgres]"``
redis     ``url`` (``redis://...``)          yes; needs ``pip install "flowai_nb[redis]"``
========  =================================  ==========================================

Backends are imported only when a store of their kind is opened. A host can
add its own kinds with :func:`register_store_factory`::

    register_store_factory("dict", lambda config: MyDictStore())
    open_store({"kind": "dict", "config": {...}})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from ..authoring.secrets import reveal
from ._common import redact_url
from .base import KeyValueStore, ScopedStore

__all__ = [
    "KeyValueStore", "ScopedStore", "open_store", "register_store_factory", "SUPPORTED_KINDS",
]

SUPPORTED_KINDS: tuple[str, ...] = ("memory", "sqlite", "duckdb", "postgres", "redis")
"""The built-in store kinds :func:`open_store` accepts."""

StoreFactory = Callable[[Any], KeyValueStore]
"""``factory(config) -> KeyValueStore``: opens a host-provided store kind."""

_FACTORIES: dict[str, StoreFactory] = {}


def register_store_factory(kind: str, factory: StoreFactory) -> None:
    """Register ``factory(config) -> KeyValueStore`` for ``StorageFactorySpec(kind=...)``.

    ``config`` is the descriptor's config as given (``None`` when absent).
    Registering a kind again replaces its factory; built-in kinds cannot be
    replaced.

    Raises:
        ValueError: ``kind`` is empty or built in. TypeError: ``factory`` is not callable.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"store kind must be a non-empty string; got {kind!r}")
    if kind in SUPPORTED_KINDS:
        raise ValueError(f"store kind {kind!r} is built in; register another kind name")
    if not callable(factory):
        raise TypeError(f"store factory for {kind!r} must be callable; got {factory!r}")
    _FACTORIES[kind] = factory


def known_kinds() -> list[str]:
    """Built-in store kinds plus every registered one."""
    return [*SUPPORTED_KINDS, *sorted(_FACTORIES)]

# kind: (module, class, config key, accepted URL schemes)
_BACKENDS: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "memory": ("memory", "MemoryStore", None, ()),
    "sqlite": ("sqlite", "SqliteStore", "path", ()),
    "duckdb": ("duckdb", "DuckDBStore", "path", ()),
    "postgres": ("postgres", "PostgresStore", "url", ("postgresql://", "postgres://")),
    "redis": ("redis", "RedisStore", "url", ("redis://", "rediss://", "unix://")),
}


def _split(descriptor: Any) -> tuple[Any, Any]:
    if isinstance(descriptor, Mapping):
        rest = dict(descriptor)
        if "kind" not in rest:
            raise ValueError(
                f"store descriptor {descriptor!r} has no 'kind'; "
                f"expected one of {list(SUPPORTED_KINDS)}"
            )
        kind = rest.pop("kind")
        if "config" in rest:
            config = rest.pop("config")
            if rest:
                raise ValueError(
                    f"store descriptor mixes 'config' with top-level keys {sorted(rest)}; "
                    "put every setting either in 'config' or beside 'kind'"
                )
        else:
            config = rest
    elif hasattr(descriptor, "kind") and hasattr(descriptor, "config"):
        kind, config = descriptor.kind, descriptor.config
    else:
        raise TypeError(
            "store descriptor must be a mapping like {'kind': 'sqlite', 'path': 'kv.db'} "
            f"or a StorageFactorySpec; got {type(descriptor).__name__}: {descriptor!r}"
        )
    if kind in _FACTORIES:
        return kind, config
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise TypeError(f"store config must be a mapping; got {type(config).__name__}")
    return kind, dict(config)


def open_store(descriptor: Any) -> KeyValueStore:
    """Open the store a descriptor describes.

    Args:
        descriptor: a ``StorageFactorySpec`` (anything with ``.kind`` and
            ``.config``), or a mapping in the flat form ``{"kind": "sqlite",
            "path": "kv.db"}`` or the nested form ``{"kind": "sqlite",
            "config": {"path": "kv.db"}}``.

    Raises:
        ValueError: unknown kind, or missing/unexpected config keys, or a URL of the wrong scheme.
        TypeError: the descriptor or a config value has the wrong type.
        ImportError: the kind's driver is not installed (the message names the extra).
    """
    kind, config = _split(descriptor)
    config = reveal(config)
    if kind in _FACTORIES:
        store = _FACTORIES[kind](config)
        if not isinstance(store, KeyValueStore):
            raise TypeError(f"store factory for kind {kind!r} returned {type(store).__name__}; "
                            f"expected a flowai_nb.storage.KeyValueStore")
        return store
    if kind not in _BACKENDS:
        raise ValueError(
            f"unknown store kind {kind!r}; known kinds are {known_kinds()} (register your own "
            f"with flowai_nb.register_store_factory(kind, factory))"
        )
    module, cls, key, schemes = _BACKENDS[kind]
    wanted = {key} if key else set()
    missing, unknown = sorted(wanted - set(config)), sorted(set(config) - wanted)
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if unknown:
            problems.append(f"unexpected {unknown}")
        raise ValueError(
            f"store kind {kind!r} config keys: {'; '.join(problems)}; "
            f"expected {sorted(wanted) or 'no config'}"
        )
    args = []
    if key == "path":
        path = config["path"]
        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                f"store kind {kind!r} needs 'path' to be a str or os.PathLike; "
                f"got {type(path).__name__}: {path!r}"
            )
        if not os.fspath(path):
            raise ValueError(f"store kind {kind!r} needs a non-empty 'path'")
        args.append(path)
    elif key == "url":
        url = config["url"]
        if not isinstance(url, str):
            raise TypeError(
                f"store kind {kind!r} needs 'url' to be a str; got {type(url).__name__}"
            )
        if not url.startswith(schemes):
            raise ValueError(
                f"store kind {kind!r} needs 'url' starting with {' or '.join(schemes)}; "
                f"got {redact_url(url)!r}"
            )
        args.append(url)
    store_class = getattr(import_module(f"{__name__}.{module}"), cls)
    return store_class(*args)
