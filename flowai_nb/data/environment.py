"""The data environment: one embedded DuckDB connection with the target attached read-only.

Agent SQL goes through :meth:`DataEnvironment.run_sql`, which refuses
anything but one read-only SELECT/WITH over the target's tables and the
catalog views (``flowai_catalog.tables``, ``flowai_catalog.columns``,
``flowai_catalog.glossary``), caps rows, and cancels queries that run past
the timeout. Three walls keep agent SQL from writing: the statement check
(:mod:`flowai_nb.data.sql_guard`), the read-only attach, and DuckDB's
``enable_external_access=false`` (locked) so no file can be read or written.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..authoring.data_environment import CatalogEntry, DataEnvironmentConfig
from ._extensions import connect
from ._json import jsonable
from ._target import ALIAS, Target, attach_target
from .catalog import Catalog, UnknownTable, _unknown_message, open_catalog_store, profile_target
from .search import CatalogSearch
from .sql_guard import SQLRefused, check_sql

__all__ = ["DataEnvironment", "SQLError", "SQLRefused", "SQL_RESULT_KIND"]

SQL_RESULT_KIND = "sql_result"
_REF_TEXT = re.compile(r"^\s*[\w.-]+:[\w.-]+\s*$")  # "kind:id"
_VIEWS = "flowai_catalog"
_VIEW_DDL = {
    "tables": "table_name VARCHAR, description VARCHAR, row_count BIGINT, column_count INTEGER",
    "columns": "table_name VARCHAR, column_name VARCHAR, type VARCHAR, description VARCHAR, "
               "null_rate DOUBLE, distinct_count BIGINT",
    "glossary": "term VARCHAR, definition VARCHAR, synonyms VARCHAR[], table_name VARCHAR",
}


class SQLError(ValueError):
    """A query that passed the guard but failed in DuckDB (bad column, type error, ...)."""


_GLIMPSE_CELL_CHARS = 200


def _clip(value: Any) -> Any:
    """A glimpse cell: long text is cut so the model never gets a huge glimpse."""
    if isinstance(value, str) and len(value) > _GLIMPSE_CELL_CHARS:
        return value[:_GLIMPSE_CELL_CHARS] + "…"
    if isinstance(value, list | dict):
        text = json.dumps(value, default=str)
        return value if len(text) <= _GLIMPSE_CELL_CHARS else text[:_GLIMPSE_CELL_CHARS] + "…"
    return value


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class DataEnvironment:
    """An embedded DuckDB with the target database attached read-only, plus its catalog.

    Build it from a config (the engine calls this)::

        env = DataEnvironment.from_config(
            config, tenant=runtime_tenant,
            resolve_reference=store.resolve, create_reference=store.create)

    Args:
        config: a :class:`DataEnvironmentConfig` or a mapping of its keys.
        tenant: when given, must match ``config.tenant_id`` (``ValueError`` otherwise).
        resolve_reference: ``envelope -> payload``; lets :meth:`frame` open reference results.
        create_reference: ``(kind, value, glimpse=...) -> envelope``; used by
            :meth:`run_sql` for large results when no ``references`` is passed to it.
        timeout_s: queries running longer are cancelled (``TimeoutError``).
        inline_max_bytes: results whose rows serialise above this become references.
        glimpse_rows: rows kept in a reference's glimpse.
        max_limit: the largest ``limit`` :meth:`run_sql` accepts.
    """

    def __init__(self, config: DataEnvironmentConfig | Mapping[str, Any], *,
                 tenant: Any = None,
                 resolve_reference: Callable[[Any], Any] | None = None,
                 create_reference: Callable[..., dict] | None = None,
                 timeout_s: float = 30.0, inline_max_bytes: int = 16_000,
                 glimpse_rows: int = 10, max_limit: int = 100_000) -> None:
        if not isinstance(config, DataEnvironmentConfig):
            if not isinstance(config, Mapping):
                raise TypeError("data environment config must be a DataEnvironmentConfig or a "
                                f"mapping, got {type(config).__name__}")
            config = DataEnvironmentConfig.model_validate(dict(config))
        if tenant is not None:
            config.check_tenant(tenant)
        self.config = config
        self.timeout_s = timeout_s
        self.inline_max_bytes = inline_max_bytes
        self.glimpse_rows = glimpse_rows
        self.max_limit = max_limit
        self._resolve_reference = resolve_reference
        self._create_reference = create_reference
        self._lock = threading.RLock()
        self._con = connect()
        self.target: Target | None = None
        try:
            self._setup()
            self.catalog = self._make_catalog()
        except BaseException:
            self._con.close()
            raise
        self._views_version = -1
        self._readable: set[tuple[str, str, str]] | None = None

    @classmethod
    def from_config(cls, config: DataEnvironmentConfig | Mapping[str, Any], **options: Any
                    ) -> DataEnvironment:
        """Same as the constructor; reads better at the call site in the engine."""
        return cls(config, **options)

    def _setup(self) -> None:
        con = self._con
        con.execute(f"CREATE SCHEMA memory.{_VIEWS}")
        for view, columns in _VIEW_DDL.items():
            con.execute(f"CREATE TABLE memory.{_VIEWS}.{view} ({columns})")
        default = "memory.main"
        if (target := self.config.target) is not None:
            self.target = attach_target(con, target, self.config.target_database_schema)
            default = f'{ALIAS}."{self.target.schema}"'
            con.execute(f"USE {default}")
        con.execute(f"SET search_path = '{default},memory.{_VIEWS}'")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")

    def _make_catalog(self) -> Catalog:
        cfg = self.config
        store = open_catalog_store(cfg.catalog, cfg.scope)
        profiled = cfg.catalog is None or cfg.catalog.kind in ("sqlite", "postgres", "duckdb")
        search_cfg = cfg.catalog_search
        search = None
        if search_cfg is not None:
            search = CatalogSearch(search_cfg.index_path, scope=cfg.scope,
                                   write_through=search_cfg.write_through)
        return Catalog(store, search=search, scope=cfg.scope,
                       profiler=self._profile if self.target is not None and profiled else None,
                       rebuild_on_start=bool(search_cfg and search_cfg.rebuild_on_start))

    def __repr__(self) -> str:
        target = f"{self.target!r} schema={self.target.schema!r}" if self.target else "None"
        return (f"DataEnvironment(tenant={self.config.tenant_id!r}, target={target}, "
                f"catalog={self.catalog!r})")

    def __enter__(self) -> DataEnvironment:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the DuckDB connection, the catalog store and the search index."""
        with self._lock:
            self._con.close()
        self.catalog.close()

    # -- catalog tools ---------------------------------------------------------------------

    def _profile(self, *, tables: Any = None, sample_size: int = 5) -> list[CatalogEntry]:
        if self.target is None:
            raise ValueError("this data environment has no target database to profile")
        with self._lock:
            return profile_target(self.target, tables=tables, sample_size=sample_size)

    def _target_tables(self) -> list[str]:
        if self.target is None:
            return []
        with self._lock:
            return self.target.tables()

    def list_tables(self) -> dict[str, Any]:
        """``{"tables": [{table, description, rowCount, columns}]}``: the catalog's tables
        plus any target table the catalog does not describe."""
        rows = {e.table: {"table": e.table, "description": e.description,
                          "rowCount": e.row_count, "columns": len(e.columns)}
                for e in self.catalog.entries()}
        for name in self._target_tables():
            rows.setdefault(name, {"table": name, "description": None, "rowCount": None,
                                   "columns": None})
        return {"tables": [rows[name] for name in sorted(rows)]}

    def describe_table(self, table: str) -> dict[str, Any]:
        """The catalog entry of ``table`` (columns, types, null rates, samples, foreign keys).

        Raises:
            UnknownTable: naming the table and the known ones.
        """
        if not isinstance(table, str) or not table.strip():
            raise ValueError(f"table must be a non-empty string, got {table!r}")
        if (entry := self.catalog.get(table)) is not None:
            return entry.to_wire()
        known = self._target_tables()
        match = next((t for t in known if t.lower() == table.lower()), None)
        if match is None:
            raise UnknownTable(_unknown_message(table, {*known, *(
                e.table for e in self.catalog.entries())}))
        with self._lock:
            columns = [{"name": n, "type": t} for n, t in self.target.columns(match)]
        return CatalogEntry(table=match, columns=columns).to_wire()

    def search_catalog(self, query: str, limit: int = 10) -> dict[str, Any]:
        """``{"query", "results": [{table, score, description, matchedColumns}]}``, best first."""
        return {"query": query, "results": self.catalog.search(query, _positive_int(
            limit, "limit"))}

    def lookup_glossary(self, term: str) -> dict[str, Any]:
        """``{"term", "matches": [{term, definition, synonyms, table}]}``."""
        return {"term": term, "matches": self.catalog.lookup_glossary(term)}

    # -- SQL -----------------------------------------------------------------------------

    def _readable_tables(self, refresh: bool = False) -> set[tuple[str, str, str]]:
        if self._readable is None or refresh:
            tables = {("memory", _VIEWS, v) for v in _VIEW_DDL}
            if self.target is not None:
                tables |= {(ALIAS, self.target.schema.lower(), t.lower())
                           for t in self.target.tables()}
            self._readable = tables
        return self._readable

    def _guard(self, sql: Any) -> None:
        try:
            used = check_sql(sql, self._con, self._readable_tables())
        except SQLRefused as exc:
            if "is not available" not in str(exc):
                raise
            used = check_sql(sql, self._con, self._readable_tables(refresh=True))
        if any(db == "memory" for db, _, _ in used):
            self._sync_views()

    def _sync_views(self) -> None:
        entries = self.catalog.entries()
        if self._views_version == self.catalog.version:
            return
        con = self._con
        rows = {
            "tables": [(e.table, e.description, e.row_count, len(e.columns)) for e in entries],
            "columns": [(e.table, c.name, c.type, c.description, c.null_rate, c.distinct_count)
                        for e in entries for c in e.columns],
            "glossary": [(g.term, g.definition, list(g.synonyms), e.table)
                         for e in entries for g in e.glossary],
        }
        con.execute("BEGIN")
        try:
            for view in _VIEW_DDL:
                con.execute(f"DELETE FROM memory.{_VIEWS}.{view}")
            for view, values in rows.items():
                if values:
                    marks = ", ".join("?" * len(values[0]))
                    con.executemany(f"INSERT INTO memory.{_VIEWS}.{view} VALUES ({marks})",
                                    values)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._views_version = self.catalog.version

    def _execute(self, sql: str, fetch: Callable[[Any], Any]) -> Any:
        import duckdb

        with self._lock:
            self._guard(sql)
            timer = threading.Timer(self.timeout_s, self._con.interrupt)
            timer.daemon = True
            timer.start()
            try:
                return fetch(self._con.execute(sql))
            except duckdb.InterruptException:
                raise TimeoutError(
                    f"query cancelled after {self.timeout_s:g}s; filter or aggregate more, "
                    "or add a LIMIT") from None
            except duckdb.Error as exc:
                raise SQLError(f"query failed: {exc}") from None
            finally:
                timer.cancel()

    def run_sql(self, sql: str, limit: int = 1000, *, references: Any = None) -> dict[str, Any]:
        """Run one read-only SELECT/WITH query (the ``run_sql`` tool).

        Returns ``{"columns", "rows", "rowCount", "truncated"}`` inline, or, when
        the rows serialise above ``inline_max_bytes``, a reference envelope of
        kind ``"sql_result"`` whose payload is ``{"columns", "rows"}`` and
        whose glimpse is ``{"columns", "rowCount", "rows": first rows, "truncated"}``.

        Args:
            sql: the query.
            limit: the most rows to return; ``truncated`` says whether more existed.
            references: an object with ``create(kind, value, glimpse=...)`` (the tool
                context's ``ctx.references``); defaults to ``create_reference``.

        Raises:
            SQLRefused: not a single read-only query over the target / catalog views.
            SQLError: DuckDB rejected the query. TimeoutError: it ran too long.
        """
        limit = _positive_int(limit, "limit")
        if limit > self.max_limit:
            raise ValueError(f"limit {limit} exceeds the maximum {self.max_limit}; aggregate "
                             "in SQL or page with OFFSET")

        def fetch(cursor: Any) -> tuple[list[str], list[tuple]]:
            return [d[0] for d in cursor.description], cursor.fetchmany(limit + 1)

        columns, raw = self._execute(sql, fetch)
        truncated = len(raw) > limit
        rows = [[jsonable(v) for v in row] for row in raw[:limit]]
        result = {"columns": columns, "rows": rows, "rowCount": len(rows), "truncated": truncated}
        if len(json.dumps(rows, separators=(",", ":"))) <= self.inline_max_bytes:
            return result
        create = getattr(references, "create", None) or self._create_reference
        if create is None:
            raise RuntimeError(
                f"the result ({len(rows)} rows) is too large to return inline and no reference "
                "store is available; add a LIMIT or aggregate")
        glimpse = {"columns": columns, "rowCount": len(rows),
                   "rows": [[_clip(v) for v in row] for row in rows[:self.glimpse_rows]],
                   "truncated": truncated}
        return create(SQL_RESULT_KIND, {"columns": columns, "rows": rows}, glimpse=glimpse)

    def frame(self, value: Any) -> Any:
        """A pandas DataFrame from a ``run_sql`` result, a reference it returned, or SQL text.

        SQL text runs through the same guard (no row limit). A reference
        envelope is opened with the ``resolve_reference`` callable.
        """
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return value
        if isinstance(value, str) and not _REF_TEXT.match(value):
            return self._execute(value, lambda cursor: cursor.df())
        if isinstance(value, Mapping) and "columns" in value and "rows" in value:
            return pd.DataFrame(value["rows"], columns=list(value["columns"]))
        if isinstance(value, Mapping | str) and (isinstance(value, str) or "id" in value):
            if self._resolve_reference is None:
                raise ValueError("cannot open a reference: this data environment was built "
                                 "without resolve_reference")
            return self.frame(dict(self._resolve_reference(value)))
        raise TypeError("frame() takes a run_sql result {columns, rows}, a reference envelope, "
                        f"or SQL text; got {type(value).__name__}")
