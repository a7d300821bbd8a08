"""Attach a target database to DuckDB read-only, and introspect it.

The target is always attached as database ``target``; the exposed schema
(``main`` for SQLite/DuckDB files, ``public`` for PostgreSQL unless
``target_database_schema`` says otherwise) becomes the default, so agent SQL
names tables without qualification.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from ..authoring.data_environment import (
    DuckDBTarget,
    ForeignKey,
    PostgresTarget,
    SqliteTarget,
    parse_target_url,
)
from ..authoring.secrets import reveal
from ._extensions import load_extension

__all__ = ["ALIAS", "Target", "as_target", "attach_target"]

ALIAS = "target"
_DEFAULT_SCHEMA = {"sqlite": "main", "duckdb": "main", "postgres": "public"}

TargetDescriptor = SqliteTarget | DuckDBTarget | PostgresTarget


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def as_target(value: Any) -> TargetDescriptor:
    """A target descriptor from a descriptor, a mapping with ``kind``, a URL or a file path."""
    if isinstance(value, SqliteTarget | DuckDBTarget | PostgresTarget):
        return value
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return parse_target_url(value)
    if isinstance(value, dict):
        from pydantic import TypeAdapter

        from ..authoring.data_environment import TargetDatabase

        return TypeAdapter(TargetDatabase).validate_python(value)
    raise TypeError(
        f"expected a target database URL, path or descriptor, got {type(value).__name__}")


class Target:
    """An attached target database: its kind, exposed schema, and introspection helpers."""

    def __init__(self, con: Any, descriptor: TargetDescriptor, schema: str) -> None:
        self.con = con
        self.descriptor = descriptor
        self.kind = descriptor.kind
        self.schema = schema

    def __repr__(self) -> str:
        where = getattr(self.descriptor, "path", None) or _redact(reveal(self.descriptor.url))
        return f"{self.kind}:{where!r}"

    def qualified(self, table: str) -> str:
        """``target."schema"."table"``."""
        return f"{ALIAS}.{ident(self.schema)}.{ident(table)}"

    def tables(self) -> list[str]:
        """Table and view names in the exposed schema, sorted."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = ? AND table_schema = ? ORDER BY table_name",
            [ALIAS, self.schema]).fetchall()
        return [r[0] for r in rows]

    def columns(self, table: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column of ``table``, in order."""
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position", [ALIAS, self.schema, table]).fetchall()
        return [(r[0], r[1]) for r in rows]

    def foreign_keys(self) -> dict[str, list[ForeignKey]]:
        """Declared foreign keys per table (empty where the database declares none)."""
        rows: list[tuple[str, str, list[str], str, list[str]]] = []
        if self.kind == "sqlite":
            rows = _sqlite_foreign_keys(self.descriptor.path, self.tables())
        elif self.kind == "duckdb":
            found = self.con.execute(
                "SELECT table_name, constraint_name, constraint_column_names, referenced_table, "
                "referenced_column_names FROM duckdb_constraints() WHERE database_name = ? "
                "AND schema_name = ? AND constraint_type = 'FOREIGN KEY'",
                [ALIAS, self.schema]).fetchall()
            rows = [(t, n, list(c), rt, list(rc)) for t, n, c, rt, rc in found]
        else:
            rows = _postgres_foreign_keys(self.con, self.schema)
        out: dict[str, list[ForeignKey]] = {}
        for table, _name, cols, ref_table, ref_cols in rows:
            out.setdefault(table, []).append(ForeignKey(
                columns=cols, references_table=ref_table, references_columns=ref_cols))
        return out


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def _sqlite_foreign_keys(path: str, tables: list[str]) -> list[tuple]:
    uri = "file:" + os.path.abspath(path).replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    rows = []
    with sqlite3.connect(uri, uri=True) as db:
        for table in tables:
            groups: dict[int, tuple[str, list[str], list[str]]] = {}
            for fk_id, _seq, ref_table, col, ref_col, *_ in db.execute(
                    f"PRAGMA foreign_key_list({ident(table)})"):
                ref = groups.setdefault(fk_id, (ref_table, [], []))
                ref[1].append(col)
                ref[2].append(ref_col)
            for fk_id, (ref_table, cols, ref_cols) in sorted(groups.items()):
                rows.append((table, str(fk_id), cols, ref_table, ref_cols))
    db.close()
    return rows


_PG_FK_SQL = """
SELECT c.conrelid::regclass::text AS tbl, c.conname AS name,
       array_to_string(ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), ',')
         AS cols,
       c.confrelid::regclass::text AS ref_tbl,
       array_to_string(ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i), ',')
         AS ref_cols
FROM pg_constraint c JOIN pg_namespace ns ON ns.oid = c.connamespace
WHERE c.contype = 'f' AND ns.nspname = {schema}
ORDER BY 1, 2
"""


_PG_SCHEMAS_SQL = ("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg%' "
                   "AND nspname <> 'information_schema' ORDER BY 1")


def _postgres_foreign_keys(con: Any, schema: str) -> list[tuple]:
    sql = _PG_FK_SQL.format(schema=_quote(schema))
    found = con.execute(f"SELECT * FROM postgres_query('{ALIAS}', {_quote(sql)})").fetchall()

    def bare(name: str) -> str:  # regclass text is schema-qualified outside the search path
        return name.rsplit(".", 1)[-1].strip('"')

    return [(bare(t), n, c.split(","), bare(rt), rc.split(",")) for t, n, c, rt, rc in found]


def attach_target(con: Any, target: Any, schema: str | None = None) -> Target:
    """Attach ``target`` to ``con`` as ``target``, READ_ONLY, and make its schema the default.

    Raises:
        FileNotFoundError: a SQLite/DuckDB file that does not exist (read-only never creates).
        ValueError: a schema the database does not have (names the schemas it has).
    """
    descriptor = as_target(target)
    kind = descriptor.kind
    schema = schema or _DEFAULT_SCHEMA[kind]
    if kind in ("sqlite", "duckdb"):
        if not os.path.isfile(descriptor.path):
            raise FileNotFoundError(
                f"target {kind} database file {descriptor.path!r} does not exist")
        if kind == "sqlite":
            load_extension(con, "sqlite")
            con.execute(f"ATTACH {_quote(descriptor.path)} AS {ALIAS} (TYPE sqlite, READ_ONLY)")
        else:
            con.execute(f"ATTACH {_quote(descriptor.path)} AS {ALIAS} (READ_ONLY)")
    else:
        load_extension(con, "postgres")
        con.execute(f"ATTACH {_quote(reveal(descriptor.url))} AS {ALIAS} "
                    f"(TYPE postgres, READ_ONLY, SCHEMA {_quote(schema)})")
    schemas = [r[0] for r in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?", [ALIAS]).fetchall()]
    if schema not in schemas:
        if kind == "postgres":  # the SCHEMA option hides the others; ask the server
            schemas = [r[0] for r in con.execute(
                f"SELECT * FROM postgres_query('{ALIAS}', {_quote(_PG_SCHEMAS_SQL)})").fetchall()]
        con.execute(f"DETACH {ALIAS}")
        raise ValueError(f"target database has no schema {schema!r}; it has {sorted(schemas)}")
    return Target(con, descriptor, schema)
