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

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._json import cell_value, dumps
from .._redact import redact, redacted_error, register_url_secrets
from ..authoring.data_environment import CatalogEntry, DataEnvironmentConfig
from ._extensions import connect
from ._target import ALIAS, Target, attach_target
from .catalog import Catalog, UnknownTable, _unknown_message, open_catalog_store, profile_target
from .search import CatalogSearch
from .sql_guard import SQLRefused, check_sql, relation_names

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


class _Deadline(Exception):
    """Fetching rows ran past the query timeout."""


_FIRST_BATCH = 256
_MAX_BATCH = 8192
_COUNT_BUDGET_S = 2.0
_GUARD_CACHE = 256


_PLAIN_TYPES = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                          "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "VARCHAR"})
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})


def _row_converter(description: Any) -> Callable[[list[tuple]], list[list[Any]]]:
    """Rows of a result as JSON values, column by column from DuckDB's types: integers,
    booleans and text pass untouched, floats lose NaN/inf, the rest follow the JSON rule."""
    kinds = [str(d[1]) for d in description]
    floats = [j for j, k in enumerate(kinds) if k in _FLOAT_TYPES]
    others = [j for j, k in enumerate(kinds) if k not in _FLOAT_TYPES and k not in _PLAIN_TYPES]

    def convert(raw: list[tuple]) -> list[list[Any]]:
        rows = [list(r) for r in raw]
        for j in floats:
            for row in rows:
                v = row[j]
                if v is not None and v - v != 0:  # NaN or infinity
                    row[j] = None
        for j in others:
            for row in rows:
                if row[j] is not None:
                    row[j] = cell_value(row[j])
        return rows

    return convert


class _Watchdog:
    """One thread per environment that interrupts its DuckDB connection at a deadline
    (cheaper than a timer thread per query)."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> None:
        with self._cond:
            self._deadline = deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True,
                                                name="flowai-sql-watchdog")
                self._thread.start()
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._deadline = None
                try:
                    self._interrupt()
                except Exception:  # noqa: S110 - a closed connection has nothing to stop
                    pass


_GLIMPSE_CELL_CHARS = 200


def _clip(value: Any) -> Any:
    """A glimpse cell: long text is cut so the model never gets a huge glimpse."""
    if isinstance(value, str) and len(value) > _GLIMPSE_CELL_CHARS:
        return value[:_GLIMPSE_CELL_CHARS] + "…"
    if isinstance(value, list | dict):
        text = dumps(value)  # cells are JSON values already
        return value if len(text) <= _GLIMPSE_CELL_CHARS else text[:_GLIMPSE_CELL_CHARS] + "…"
    return value


def _config_urls(config: DataEnvironmentConfig) -> list[str | None]:
    """The URLs of a config that may carry a password (target, catalog, kv)."""
    urls = [getattr(config.target, "url", None), getattr(config.catalog, "url", None)]
    kv_config = getattr(config.kv, "config", None) or {}
    urls.append(kv_config.get("url") if isinstance(kv_config, dict) else None)
    return [u if isinstance(u, str) else getattr(u, "get_secret_value", lambda: None)()
            for u in urls]


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
        timeout_s: queries running longer are interrupted (``TimeoutError``); default
            ``config.sql.timeout_s``.
        inline_max_bytes: results whose rows serialise above this become references.
        glimpse_rows: rows kept in a reference's glimpse.
        max_limit: the largest ``limit`` :meth:`run_sql` accepts (and the most rows a result
            keeps); default ``config.sql.max_rows``.

    The other limits (byte cap, DuckDB ``memory_limit`` and ``threads``) come from
    ``config.sql`` (:class:`~flowai_nb.authoring.data_environment.SqlSettings`).
    """

    def __init__(self, config: DataEnvironmentConfig | Mapping[str, Any], *,
                 tenant: Any = None,
                 resolve_reference: Callable[[Any], Any] | None = None,
                 create_reference: Callable[..., dict] | None = None,
                 timeout_s: float | None = None, inline_max_bytes: int = 16_000,
                 glimpse_rows: int = 10, max_limit: int | None = None) -> None:
        if not isinstance(config, DataEnvironmentConfig):
            if not isinstance(config, Mapping):
                raise TypeError("data environment config must be a DataEnvironmentConfig or a "
                                f"mapping, got {type(config).__name__}")
            config = DataEnvironmentConfig.model_validate(dict(config))
        if tenant is not None:
            config.check_tenant(tenant)
        self.config = config
        self.timeout_s = config.sql.timeout_s if timeout_s is None else timeout_s
        self.inline_max_bytes = inline_max_bytes
        self.glimpse_rows = glimpse_rows
        self.max_limit = config.sql.max_rows if max_limit is None else max_limit
        self.max_bytes = config.sql.max_bytes
        self._resolve_reference = resolve_reference
        self._create_reference = create_reference
        self._lock = threading.RLock()
        register_url_secrets(*_config_urls(config))
        self._con = connect()
        self.target: Target | None = None
        failure: BaseException | None = None
        try:
            self._setup()
            self.catalog = self._make_catalog()
        except Exception as exc:
            self._con.close()
            failure = redacted_error(exc)  # "Unable to connect to Postgres at <url>" ...
        except BaseException:
            self._con.close()
            raise
        if failure is not None:
            raise failure  # outside the handler: the unredacted original is not chained
        self._views_version = -1
        self._readable: set[tuple[str, str, str]] | None = None
        self._relations: set[str] | None = None
        self._checked: dict[str, set[tuple[str, str, str]]] = {}
        self._watchdog = _Watchdog(self._con.interrupt)

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
        con.execute(f"SET memory_limit = '{self.config.sql.memory_limit.strip()}'")
        con.execute(f"SET threads = {int(self.config.sql.threads)}")
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
        self._watchdog.close()
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
        """Refuse anything but one read-only query over the readable tables.

        A checked SQL text is remembered (the check parses through DuckDB, which costs
        more than a small query); the memory is cleared whenever the tables change.
        """
        used = self._checked.get(sql) if isinstance(sql, str) else None
        if used is None:
            if self._relations is None:
                self._relations = relation_names(self._con)
            try:
                used = check_sql(sql, self._con, self._readable_tables(), self._relations)
            except SQLRefused as exc:
                if "is not available" not in str(exc):
                    raise
                self._checked.clear()
                self._relations = relation_names(self._con)
                used = check_sql(sql, self._con, self._readable_tables(refresh=True),
                                 self._relations)
            if len(self._checked) >= _GUARD_CACHE:
                self._checked.pop(next(iter(self._checked)))
            self._checked[sql] = used
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

    def _execute(self, sql: str, fetch: Callable[[Any, float], Any]) -> Any:
        """Guard and run ``sql``; ``fetch(cursor, deadline)`` reads the result.

        DuckDB is interrupted at the timeout; ``fetch`` checks the same deadline
        (``time.monotonic()``) between batches, so converting rows is bounded too.
        """
        import duckdb

        with self._lock:
            self._guard(sql)
            deadline = time.monotonic() + self.timeout_s
            self._watchdog.arm(deadline)
            try:
                return fetch(self._con.execute(sql), deadline)
            except (duckdb.InterruptException, _Deadline):
                raise TimeoutError(
                    f"query cancelled after {self.timeout_s:g}s; filter or aggregate more, "
                    "or add a LIMIT") from None
            except duckdb.OutOfMemoryException as exc:
                raise SQLError(
                    f"query needs more than the data environment's memory_limit "
                    f"({self.config.sql.memory_limit}); aggregate or filter more: "
                    f"{redact(str(exc).splitlines()[0])}") from None
            except duckdb.Error as exc:
                raise SQLError(f"query failed: {redact(str(exc))}") from None
            finally:
                self._watchdog.disarm()

    def _count(self, sql: str, deadline: float) -> int | None:
        """The full row count of ``sql``, or ``None`` when counting would take too long."""
        import duckdb

        now = time.monotonic()
        if min(deadline - now, _COUNT_BUDGET_S) <= 0:
            return None
        body = sql.strip().rstrip(";")
        self._watchdog.arm(min(deadline, now + _COUNT_BUDGET_S))
        try:
            return int(self._con.execute(f"SELECT count(*) FROM (\n{body}\n) AS q").fetchone()[0])
        except duckdb.Error:
            return None
        finally:
            self._watchdog.arm(deadline)

    def _fetch_rows(self, sql: str, limit: int, cursor: Any,
                    deadline: float) -> tuple[list[str], list[list[Any]], int | str, int]:
        """Read the result: up to ``limit`` rows while they fit inline, else every row up to
        the caps (``max_limit`` rows, ``max_bytes`` bytes). Returns columns, rows, the full
        row count (or ``"more than N"``) and the rows' JSON size."""
        columns = [d[0] for d in cursor.description]
        convert = _row_converter(cursor.description)
        rows: list[list[Any]] = []
        size = 0
        more = exhausted = False
        batch = _FIRST_BATCH
        while True:
            want = (limit if size <= self.inline_max_bytes else self.max_limit) - len(rows)
            if want <= 0:
                break
            raw = cursor.fetchmany(min(batch, want))
            if time.monotonic() > deadline:
                raise _Deadline()
            if not raw:
                exhausted = True
                break
            converted = convert(raw)
            batch_size = len(dumps(converted))
            if size + batch_size <= self.max_bytes:
                size += batch_size
                rows += converted
            else:  # the byte cap falls inside this batch: keep the rows that fit
                for row in converted:
                    size += len(dumps(row)) + 1
                    if size > self.max_bytes:
                        more = True
                        break
                    rows.append(row)
            if more:
                break
            batch = min(batch * 4, _MAX_BATCH)
        if not (more or exhausted):
            more = bool(cursor.fetchmany(1))
        if not rows and more:
            raise SQLError(
                f"the first row alone is larger than the byte cap ({self.max_bytes:,} bytes as "
                "JSON); select fewer or smaller columns")
        total: int | str = len(rows)
        if more:
            counted = self._count(sql, deadline)
            total = counted if counted is not None and counted > len(rows) \
                else f"more than {len(rows)}"
        return columns, rows, total, size

    def run_sql(self, sql: str, limit: int = 1000, *,
                references: Any = None) -> dict[str, Any]:
        """Run one read-only SELECT/WITH query (the ``run_sql`` tool).

        Returns ``{"columns", "rows", "rowCount", "truncated"}`` inline (at most
        ``limit`` rows), or, when the rows serialise above ``inline_max_bytes``, a
        reference envelope of kind ``"sql_result"`` whose payload is ``{"columns",
        "rows"}`` with every row of the result up to the caps (``max_limit`` rows,
        ``config.sql.max_bytes`` bytes) and whose glimpse is ``{"columns", "rowCount",
        "rowsReturned", "rows": first rows, "truncated"}``. ``rowCount`` is the query's full
        row count, or the text ``"more than N"`` when counting would take too long;
        ``truncated`` says that fewer rows were kept than the query has.

        Args:
            sql: the query.
            limit: the most rows to return inline.
            references: an object with ``create(kind, value, glimpse=...)`` (the tool
                context's ``ctx.references``); defaults to ``create_reference``.

        Raises:
            SQLRefused: not a single read-only query over the target / catalog views.
            SQLError: DuckDB rejected the query (or it needs more than the memory limit).
            TimeoutError: it ran (or reading its rows took) longer than the timeout.
        """
        limit = _positive_int(limit, "limit")
        if limit > self.max_limit:
            raise ValueError(f"limit {limit} exceeds the maximum {self.max_limit}; aggregate "
                             "in SQL or page with OFFSET")
        columns, rows, total, size = self._execute(
            sql, lambda cursor, deadline: self._fetch_rows(sql, limit, cursor, deadline))
        truncated = total != len(rows)
        if size <= self.inline_max_bytes:
            return {"columns": columns, "rows": rows, "rowCount": total, "truncated": truncated}
        create = getattr(references, "create", None) or self._create_reference
        if create is None:
            raise RuntimeError(
                f"the result ({len(rows)} rows) is too large to return inline and no reference "
                "store is available; add a LIMIT or aggregate")
        glimpse = {"columns": columns, "rowCount": total, "rowsReturned": len(rows),
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
            return self._execute(value, lambda cursor, deadline: cursor.df())
        if isinstance(value, Mapping) and "columns" in value and "rows" in value:
            return pd.DataFrame(value["rows"], columns=list(value["columns"]))
        if isinstance(value, Mapping | str) and (isinstance(value, str) or "id" in value):
            if self._resolve_reference is None:
                raise ValueError("cannot open a reference: this data environment was built "
                                 "without resolve_reference")
            return self.frame(dict(self._resolve_reference(value)))
        raise TypeError("frame() takes a run_sql result {columns, rows}, a reference envelope, "
                        f"or SQL text; got {type(value).__name__}")
