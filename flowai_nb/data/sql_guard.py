"""Refuse any agent SQL that is not one read-only query over allowed tables.

Parsing is DuckDB's own: ``duckdb.extract_statements`` splits and types the
statements (so comments and ``WITH ... DELETE`` cannot hide a write) and
``json_serialize_sql`` gives the syntax tree, which is walked to check every
table reference and function call, with each ``WITH`` name visible only in its
own query, and DESCRIBE / SUMMARIZE / SHOW recognised by their ``SHOW_REF`` node.
This is the first wall; the second is that the target database is attached
read-only and the connection has external (file) access disabled.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

__all__ = ["SQLRefused", "check_sql", "relation_names"]

# Table functions that read nothing outside the query itself.
_ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Scalar functions that reach files, settings or the environment.
_DENIED_FUNCTIONS = frozenset({"getenv", "current_setting", "glob", "query", "query_table",
                               "sniff_csv", "load_extension", "read_text", "read_blob"})
_DENIED_PREFIXES = ("read_", "write_", "parquet_", "sqlite_", "postgres_", "duckdb_",
                    "pragma_", "fts_", "json_serialize", "iceberg_", "delta_")


class SQLRefused(ValueError):
    """The SQL was refused before it ran; the message says why and what is allowed."""


def check_sql(sql: Any, con: Any, tables: Collection[tuple[str, str, str]],
              relations: Collection[str] | None = None) -> set[tuple[str, str, str]]:
    """Check that ``sql`` is a single read-only query over ``tables``; return the tables it reads.

    Args:
        sql: the agent's SQL text.
        con: any DuckDB connection (used only to parse).
        tables: the readable ``(database, schema, table)`` triples, lower-case.
        relations: every relation name DuckDB could resolve (lower-case); looked up on
            ``con`` when not given (callers cache :func:`relation_names`).

    Raises:
        SQLRefused: naming what was refused and what is allowed instead.
    """
    import duckdb

    if not isinstance(sql, str) or not sql.strip():
        raise SQLRefused(f"sql must be a non-empty SQL string, got {sql!r}")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SQLRefused(f"could not parse the SQL: {exc}") from None
    if len(statements) != 1:
        kinds = ", ".join(s.type.name for s in statements) or "none"
        raise SQLRefused(
            f"run_sql takes exactly one SELECT/WITH statement; got {len(statements)} ({kinds})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SQLRefused(
            f"only read-only SELECT/WITH queries are allowed; got a statement of type {kind.name}")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise SQLRefused(
            "only plain SELECT/WITH queries are allowed (PRAGMA and other commands are not): "
            f"{tree.get('error_message', '')}")
    if relations is None:
        relations = relation_names(con)
    return _check_tree(tree["statements"], tables, relations)


def relation_names(con: Any) -> set[str]:
    """Every table and view name DuckDB could resolve, system views included."""
    rows = con.execute("SELECT view_name FROM duckdb_views() UNION ALL "
                       "SELECT table_name FROM duckdb_tables()").fetchall()
    return {row[0].lower() for row in rows}


def _scoped_nodes(tree: Any) -> Iterator[tuple[dict, frozenset[str]]]:
    """Every node of the syntax tree with the CTE names visible at it.

    A ``WITH`` binds its names in its own query only: the body of CTE *i* sees the
    CTEs before it (and itself only when recursive); the rest of the query sees all.
    """
    stack: list[tuple[Any, frozenset[str]]] = [(tree, frozenset())]
    while stack:
        item, visible = stack.pop()
        if isinstance(item, list):
            stack.extend((child, visible) for child in item)
            continue
        if not isinstance(item, dict):
            continue
        if item.get("type") == "RECURSIVE_CTE_NODE" and item.get("cte_name"):
            visible = visible | {str(item["cte_name"]).lower()}
        yield item, visible
        entries = (item.get("cte_map") or {}).get("map") if isinstance(
            item.get("cte_map"), dict) else None
        names: list[str] = []
        for entry in entries or []:
            names.append(str(entry.get("key", "")).lower())
            stack.append((entry.get("value"), visible | frozenset(names[:-1])))
        inner = visible | frozenset(names)
        stack.extend((child, inner) for key, child in item.items() if key != "cte_map")


def _check_tree(tree: Any, tables: Collection[tuple[str, str, str]],
                relations: Collection[str] = ()) -> set[tuple[str, str, str]]:
    nodes = list(_scoped_nodes(tree))
    ctes = {entry["key"].lower() for node, _ in nodes if isinstance(node.get("cte_map"), dict)
            for entry in node["cte_map"].get("map", [])}
    # A CTE named like a real relation is refused outright: a reference outside the CTE's
    # scope would reach the relation while reading like the CTE.
    readable = {t for _, _, t in tables}
    shadowing = sorted(name for name in ctes if name in relations and name not in readable)
    if shadowing:
        raise SQLRefused(f"CTE name(s) {shadowing} shadow database relations; rename them")
    used: set[tuple[str, str, str]] = set()
    for node, visible in nodes:
        kind = node.get("type")
        if kind == "BASE_TABLE":
            used.update(_check_table(node, visible, tables))
        elif kind == "SHOW_REF":  # DESCRIBE, SUMMARIZE and SHOW parse to a SELECT over this
            raise SQLRefused("only SELECT/WITH queries are allowed; DESCRIBE, SUMMARIZE and "
                             "SHOW are not (use the describe_table and list_tables tools)")
        elif kind == "TABLE_FUNCTION":
            name = str(node.get("function", {}).get("function_name", "")).lower()
            if name not in _ALLOWED_TABLE_FUNCTIONS:
                raise SQLRefused(
                    f"table function {name}() is not allowed in agent SQL; only the target "
                    "database's tables and the catalog views can be read")
        elif node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
                raise SQLRefused(f"function {name}() is not allowed in agent SQL")
    return used


def _check_table(node: dict, ctes: Collection[str],
                 tables: Collection[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    catalog = (node.get("catalog_name") or "").lower()
    schema = (node.get("schema_name") or "").lower()
    name = (node.get("table_name") or "").lower()
    if not catalog and not schema and name in ctes:
        return []
    found = [(db, sch, tbl) for db, sch, tbl in tables if tbl == name and (
        (catalog and (catalog, schema or sch) == (db, sch))
        or (not catalog and schema in ("", sch, db)))]
    if found:
        return found
    shown = ".".join(p for p in (catalog, schema, name) if p)
    known = sorted({t for _, _, t in tables})
    listing = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
    raise SQLRefused(
        f"table {shown!r} is not available to agent SQL; readable tables: {listing or 'none'}")
