"""The data catalog: what agents can know about the tables before querying them.

Entries (:class:`~flowai_nb.authoring.data_environment.CatalogEntry`) come
from the config (``inline``), from a table in a SQLite/DuckDB/PostgreSQL
database, or from :func:`profile_catalog` run against the target database.
They export to and import from JSON.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .._json import cell_value
from ..authoring.data_environment import (
    CatalogEntry,
    ColumnEntry,
    ForeignKey,
    GlossaryTerm,
)
from ..authoring.secrets import reveal
from ._target import Target, attach_target, ident
from .search import CatalogSearch

__all__ = [
    "Catalog", "CatalogEntry", "ColumnEntry", "ForeignKey", "GlossaryTerm", "UnknownTable",
    "export_catalog", "import_catalog", "open_catalog_store", "profile_catalog",
]

_FORMAT = "flowai_nb.catalog/v1"


class UnknownTable(LookupError):
    """A table name the catalog and the target database do not know."""


# -- JSON export / import --------------------------------------------------------------------


def export_catalog(entries: Iterable[CatalogEntry], path: str | os.PathLike | None = None) -> str:
    """Serialise ``entries`` to JSON text (camelCase keys); also write it to ``path`` if given."""
    text = json.dumps({"format": _FORMAT, "entries": [e.to_wire() for e in entries]},
                      indent=2, ensure_ascii=False)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def import_catalog(source: Any) -> list[CatalogEntry]:
    """Entries from JSON text, a JSON file path, a parsed export, or a list of entry mappings.

    Raises:
        ValueError: when the source is not a catalog export (names what was found).
        pydantic.ValidationError: when an entry is malformed.
    """
    data = source
    if isinstance(source, os.PathLike) or (
            isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        data = Path(source).read_text(encoding="utf-8")
    if isinstance(data, str | bytes):
        data = json.loads(data)
    if isinstance(data, dict):
        if "entries" not in data:
            raise ValueError(f"a catalog export needs an 'entries' list; got keys {sorted(data)}")
        data = data["entries"]
    if not isinstance(data, list):
        raise ValueError(f"expected a list of catalog entries, got {type(data).__name__}")
    return [e if isinstance(e, CatalogEntry) else CatalogEntry.model_validate(e) for e in data]


# -- profiling --------------------------------------------------------------------------------


def profile_catalog(target: Any, *, schema: str | None = None,
                    tables: Iterable[str] | None = None,
                    sample_size: int = 5) -> list[CatalogEntry]:
    """Build catalog entries by profiling a target database.

    For each table: columns and types, row count, per-column null rate,
    distinct count and the most frequent sample values, and declared foreign
    keys.

    Args:
        target: a :class:`~flowai_nb.data.DataEnvironment`, a URL
            (``sqlite:///x.db``, ``postgresql://...``), a file path, or a target descriptor.
        schema: the schema to profile (default ``main``, or ``public`` on PostgreSQL).
        tables: only these tables (default: all tables and views of the schema).
        sample_size: how many sample values to keep per column.
    """
    if hasattr(target, "_profile"):
        return target._profile(tables=tables, sample_size=sample_size)
    from ._extensions import connect

    con = connect()
    try:
        return profile_target(attach_target(con, target, schema), tables=tables,
                              sample_size=sample_size)
    finally:
        con.close()


def profile_target(target: Target, *, tables: Iterable[str] | None = None,
                   sample_size: int = 5) -> list[CatalogEntry]:
    """Profile an attached :class:`Target` (see :func:`profile_catalog`)."""
    available = target.tables()
    wanted = list(tables) if tables is not None else available
    for name in wanted:
        if name not in available:
            raise UnknownTable(_unknown_message(name, available))
    fks = target.foreign_keys()
    return [_profile_table(target, name, fks.get(name, []), sample_size) for name in wanted]


def _profile_table(target: Target, table: str, fks: list[ForeignKey],
                   sample_size: int) -> CatalogEntry:
    con, q = target.con, target.qualified(table)
    cols = target.columns(table)
    exprs = ["count(*)"] + [f"count({ident(c)})" for c, _ in cols]
    counts = con.execute(f"SELECT {', '.join(exprs)} FROM {q}").fetchone()
    rows = counts[0]
    entries = []
    for i, (name, type_) in enumerate(cols):
        distinct, samples = None, []
        try:
            distinct = con.execute(f"SELECT count(DISTINCT {ident(name)}) FROM {q}").fetchone()[0]
            if sample_size > 0:
                samples = [cell_value(r[0]) for r in con.execute(
                    f"SELECT {ident(name)} FROM {q} WHERE {ident(name)} IS NOT NULL "
                    f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {int(sample_size)}").fetchall()]
        except Exception:  # noqa: BLE001 - types DuckDB cannot group (e.g. some PG types)
            pass
        samples = [s[:100] if isinstance(s, str) else s for s in samples]
        entries.append(ColumnEntry(
            name=name, type=type_, null_rate=round(1 - counts[i + 1] / rows, 4) if rows else 0.0,
            distinct_count=distinct, sample_values=samples))
    return CatalogEntry(table=table, row_count=rows, columns=entries, foreign_keys=fks)


# -- stores -----------------------------------------------------------------------------------


class _MemoryStore:
    """Entries held in process (``empty``, ``inline`` and profiled catalogs)."""

    kind = "memory"

    def __init__(self, entries: Iterable[CatalogEntry] = ()) -> None:
        self._entries = {e.table: e for e in entries}

    def load(self) -> list[CatalogEntry]:
        return list(self._entries.values())

    def put(self, entries: list[CatalogEntry]) -> None:
        self._entries.update((e.table, e) for e in entries)

    def delete(self, table: str) -> None:
        self._entries.pop(table, None)

    def close(self) -> None:
        pass


class _SQLStore:
    """Entries as JSON rows ``(scope, name, entry)`` in a SQLite/DuckDB/PostgreSQL table.

    All three are reached through DuckDB (the sqlite/postgres extensions
    attached read-write), so no extra driver is needed.
    """

    def __init__(self, kind: str, location: str, table: str, scope: str) -> None:
        from ._extensions import connect

        self.kind, self.scope = kind, scope
        ext = {"sqlite": ("sqlite",), "postgres": ("postgres",)}.get(kind, ())
        self._con = connect(extensions=ext)
        options = {"sqlite": " (TYPE sqlite)", "postgres": " (TYPE postgres)"}.get(kind, "")
        quoted = location.replace("'", "''")
        self._con.execute(f"ATTACH '{quoted}' AS catalog_store{options}")
        self._table = f"catalog_store.{ident(table)}"
        self._con.execute(f"CREATE TABLE IF NOT EXISTS {self._table} "
                          "(scope VARCHAR, name VARCHAR, entry VARCHAR)")
        self._lock = threading.Lock()

    def load(self) -> list[CatalogEntry]:
        with self._lock:
            rows = self._con.execute(f"SELECT entry FROM {self._table} WHERE scope = ? "
                                     "ORDER BY name", [self.scope]).fetchall()
        return [CatalogEntry.model_validate_json(r[0]) for r in rows]

    def put(self, entries: list[CatalogEntry]) -> None:
        rows = [(self.scope, e.table, e.model_dump_json(by_alias=True)) for e in entries]
        with self._lock:
            self._con.execute("BEGIN")
            try:
                for scope, name, _ in rows:
                    self._con.execute(f"DELETE FROM {self._table} WHERE scope = ? AND name = ?",
                                      [scope, name])
                self._con.executemany(f"INSERT INTO {self._table} VALUES (?, ?, ?)", rows)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def delete(self, table: str) -> None:
        with self._lock:
            self._con.execute(f"DELETE FROM {self._table} WHERE scope = ? AND name = ?",
                              [self.scope, table])

    def close(self) -> None:
        with self._lock:
            self._con.close()


def open_catalog_store(descriptor: Any, scope: str) -> _MemoryStore | _SQLStore:
    """The store for a catalog descriptor (``None`` means an in-memory store)."""
    if descriptor is None or descriptor.kind == "empty":
        return _MemoryStore()
    if descriptor.kind == "inline":
        return _MemoryStore(descriptor.entries)
    location = reveal(descriptor.url) if descriptor.kind == "postgres" else descriptor.path
    return _SQLStore(descriptor.kind, location, descriptor.table, scope)


# -- the catalog ------------------------------------------------------------------------------


def _unknown_message(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
    return f"unknown table {name!r}{hint}; known tables: {listing or 'none'}"


def _norm(text: str) -> str:
    return " ".join(str(text).casefold().replace("_", " ").split())


class Catalog:
    """Catalog entries, their store, and their search index.

    Args:
        store: where entries live (see :func:`open_catalog_store`).
        search: the BM25 index (an in-memory one is made when omitted).
        profiler: called once, on first use, when the store is empty; its entries are saved.
        rebuild_on_start: rebuild the search index from the entries on first search even if
            a persisted index already has documents.
    """

    def __init__(self, store: Any = None, *, search: CatalogSearch | None = None,
                 profiler: Callable[[], list[CatalogEntry]] | None = None,
                 rebuild_on_start: bool = False, scope: str = "default") -> None:
        self._store = store if store is not None else _MemoryStore()
        self._search = search
        self._scope = scope
        self._profiler = profiler
        self._rebuild_on_start = rebuild_on_start
        self._entries: dict[str, CatalogEntry] | None = None
        self._search_ready = False
        self._lock = threading.RLock()
        self.version = 0

    def __repr__(self) -> str:
        count = "not loaded" if self._entries is None else f"{len(self._entries)} tables"
        return f"Catalog({self._store.kind}, {count})"

    def _loaded(self) -> dict[str, CatalogEntry]:
        with self._lock:
            if self._entries is None:
                entries = self._store.load()
                if not entries and self._profiler is not None:
                    entries = self._profiler()
                    self._store.put(entries)
                self._entries = {e.table: e for e in entries}
                self.version += 1
            return self._entries

    def entries(self) -> list[CatalogEntry]:
        """All entries, sorted by table name."""
        return sorted(self._loaded().values(), key=lambda e: e.table)

    def __len__(self) -> int:
        return len(self._loaded())

    def get(self, table: str) -> CatalogEntry | None:
        """The entry for ``table`` (exact, then case-insensitive), or ``None``."""
        entries = self._loaded()
        if table in entries:
            return entries[table]
        return next((e for n, e in entries.items() if n.lower() == str(table).lower()), None)

    def add(self, *entries: CatalogEntry | dict) -> None:
        """Add or replace entries (saved to the store; indexed when write-through is on)."""
        parsed = [e if isinstance(e, CatalogEntry) else CatalogEntry.model_validate(e)
                  for e in entries]
        with self._lock:
            current = self._loaded()
            self._store.put(parsed)
            current.update((e.table, e) for e in parsed)
            self.version += 1
            if self._search is not None:  # a configured index: keep it in step
                self.search_index.upsert(parsed)

    def remove(self, table: str) -> None:
        """Remove the entry for ``table`` if present."""
        with self._lock:
            self._loaded().pop(table, None)
            self._store.delete(table)
            self.version += 1
            if self._search is not None:
                self.search_index.remove(table)

    def export_json(self, path: str | os.PathLike | None = None) -> str:
        """All entries as JSON text (see :func:`export_catalog`)."""
        return export_catalog(self.entries(), path)

    def import_json(self, source: Any) -> list[CatalogEntry]:
        """Add the entries of a JSON export (see :func:`import_catalog`); returns them."""
        entries = import_catalog(source)
        self.add(*entries)
        return entries

    # -- search & glossary ---------------------------------------------------------------

    @property
    def search_index(self) -> CatalogSearch:
        """The BM25 index, built from the entries on first use."""
        with self._lock:
            if self._search is None:
                self._search = CatalogSearch(scope=self._scope)
            if not self._search_ready:
                if self._rebuild_on_start or len(self._search) == 0:
                    self._search.rebuild(self.entries())
                self._search_ready = True
            return self._search

    def reindex(self) -> None:
        """Rebuild the search index from the current entries (needed when write-through is off)."""
        with self._lock:
            index = self.search_index
            index.rebuild(self.entries())

    def search(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Tables matching ``query``, best first.

        Each hit is ``{table, score, description, matchedColumns}``.
        """
        hits = self.search_index.search(query, limit)
        words = set(_norm(query).split())
        out = []
        for table, score in hits:
            entry = self.get(table)
            matched = [c.name for c in entry.columns if words & set(_norm(c.name).split())] \
                if entry else []
            out.append({"table": table, "score": round(score, 4),
                        "description": entry.description if entry else None,
                        "matchedColumns": matched})
        return out

    def lookup_glossary(self, term: str) -> list[dict[str, Any]]:
        """Glossary terms matching ``term``: exact term/synonym matches, else partial ones."""
        if not isinstance(term, str) or not term.strip():
            raise ValueError(f"term must be a non-empty string, got {term!r}")
        wanted = _norm(term)
        exact, partial = [], []
        for entry in self.entries():
            for g in entry.glossary:
                names = [_norm(g.term), *(_norm(s) for s in g.synonyms)]
                row = {"term": g.term, "definition": g.definition, "synonyms": list(g.synonyms),
                       "table": entry.table}
                if wanted in names:
                    exact.append(row)
                elif any(wanted in n or n in wanted for n in names) or wanted in _norm(
                        g.definition):
                    partial.append(row)
        return exact or partial

    def close(self) -> None:
        """Close the store and the index."""
        self._store.close()
        if self._search is not None:
            self._search.close()
