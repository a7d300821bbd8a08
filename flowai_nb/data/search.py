"""Catalog search: a DuckDB full-text (BM25) index over catalog entries.

One document per table. Table names weigh most, then column names, then
descriptions, sample values and glossary terms: the document repeats the
name fields so BM25 ranks a table-name hit above a column hit above a
description hit. The ``fts`` extension (loaded from its package, by path)
tokenises, stems and builds the index; each scope (tenant/workspace) gets its
own documents table and index, so scopes sharing an index file never see
each other's tables. The index lives in a DuckDB file (``index_path``) or in
memory.

Queries score only the documents that contain a query term, through a
postings table keyed by term (the extension's ``match_bm25`` macro visits
every document), which keeps a search over 100,000 tables in milliseconds.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Iterable

from ..authoring.data_environment import CatalogEntry
from ._extensions import connect

__all__ = ["CatalogSearch", "document"]

_TOKEN = re.compile(r"[a-z0-9]+")
_K1, _B = 1.2, 0.75  # Okapi BM25 parameters (the fts extension's defaults)


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def document(entry: CatalogEntry) -> str:
    """The searchable text of one entry (name fields repeated to weigh them)."""
    name = " ".join(_words(entry.table))
    cols = " ".join(" ".join(_words(c.name)) for c in entry.columns)
    prose = [entry.description or ""]
    prose += [c.description or "" for c in entry.columns]
    prose += [f"{g.term} {' '.join(g.synonyms)} {g.definition}" for g in entry.glossary]
    prose += [str(v) for c in entry.columns for v in c.sample_values[:3] if isinstance(v, str)]
    return " ".join([name] * 4 + [cols] * 2 + prose)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class CatalogSearch:
    """BM25 search over one scope's catalog entries.

    Args:
        index_path: DuckDB file for the index; ``None`` or ``":memory:"`` keeps it in memory.
        scope: the tenant/workspace key; each scope has its own documents and index.
        write_through: :meth:`upsert` and :meth:`remove` refresh the index (otherwise only
            :meth:`rebuild` does).
    """

    def __init__(self, index_path: str | None = None, *, scope: str,
                 write_through: bool = True) -> None:
        self.index_path = index_path or ":memory:"
        self.scope = scope
        self.write_through = write_through
        key = hashlib.sha1(scope.encode()).hexdigest()[:12]
        self._docs, self._post = f"catalog_docs_{key}", f"catalog_postings_{key}"
        self._vocab, self._fts = f"catalog_vocab_{key}", f"fts_main_catalog_docs_{key}"
        self._names = f"catalog_names_{key}"
        self._stats: tuple[int, float] | None = None
        self._lock = threading.RLock()
        self._con = connect(self.index_path, extensions=("fts",))
        self._con.execute(f"CREATE TABLE IF NOT EXISTS {self._docs} "
                          "(table_name VARCHAR PRIMARY KEY, body VARCHAR)")
        self._indexed = self._table_exists(self._post)
        self._dirty = not self._indexed

    def __repr__(self) -> str:
        return f"CatalogSearch({self.index_path!r}, scope={self.scope!r}, docs={len(self)})"

    def __len__(self) -> int:
        with self._lock:
            return self._con.execute(f"SELECT count(*) FROM {self._docs}").fetchone()[0]

    def _table_exists(self, name: str) -> bool:
        return bool(self._con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?", [name]).fetchone()[0])

    def _write(self, sql: str, rows: list[tuple[str, str]], *, clear: bool = False) -> None:
        with self._lock:
            self._con.execute("BEGIN")
            try:
                if clear:
                    self._con.execute(f"DELETE FROM {self._docs}")
                if rows:
                    self._con.executemany(sql, rows)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def rebuild(self, entries: Iterable[CatalogEntry]) -> None:
        """Replace this scope's documents with ``entries`` and rebuild the index."""
        rows = sorted((e.table, document(e)) for e in entries)
        with self._lock:
            self._write(f"INSERT INTO {self._docs} VALUES (?, ?)", rows, clear=True)
            self._reindex()

    def upsert(self, entries: Iterable[CatalogEntry]) -> None:
        """Add or replace documents; the index follows when ``write_through`` is on."""
        rows = [(e.table, document(e)) for e in entries]
        with self._lock:
            self._write(f"INSERT OR REPLACE INTO {self._docs} VALUES (?, ?)", rows)
            self._dirty = self._dirty or self.write_through

    def remove(self, table: str) -> None:
        """Drop one table's document (from the index too when ``write_through`` is on)."""
        with self._lock:
            self._con.execute(f"DELETE FROM {self._docs} WHERE table_name = ?", [table])
            self._dirty = self._dirty or self.write_through

    def _reindex(self) -> None:
        con = self._con
        con.execute(f"DROP TABLE IF EXISTS {self._post}")
        con.execute(f"DROP TABLE IF EXISTS {self._vocab}")
        con.execute(f"DROP TABLE IF EXISTS {self._names}")
        self._stats = None
        self._indexed = bool(len(self))
        if self._indexed:
            con.execute(f"PRAGMA create_fts_index('{self._docs}', 'table_name', 'body', "
                        r"overwrite=1, ignore='(\\.|[^a-z0-9])+')")
            con.execute(
                f"CREATE TABLE {self._post} AS SELECT t.termid, t.docid, count(*) AS tf, "
                f"any_value(d.len) AS len FROM {self._fts}.terms t JOIN {self._fts}.docs d "
                "USING (docid) GROUP BY ALL ORDER BY termid, docid")
            con.execute(f"CREATE TABLE {self._vocab} AS SELECT term, termid, df "
                        f"FROM {self._fts}.dict ORDER BY term")
            con.execute(f"CREATE TABLE {self._names} AS SELECT docid, name "
                        f"FROM {self._fts}.docs ORDER BY docid")
            con.execute(f"CREATE INDEX {self._post}_term ON {self._post} (termid)")
            con.execute(f"CREATE INDEX {self._vocab}_term ON {self._vocab} (term)")
            con.execute(f"CREATE INDEX {self._names}_doc ON {self._names} (docid)")
        self._dirty = False

    def search(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """``(table, score)`` pairs, best first (ties by name); at most ``limit``."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"search query must be a non-empty string, got {query!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        with self._lock:
            if self._dirty:
                self._reindex()
            if not self._indexed:
                return []
            return self._search(query, limit)

    def _search(self, query: str, limit: int) -> list[tuple[str, float]]:
        con = self._con
        terms = [r[0] for r in con.execute(
            f"SELECT DISTINCT stem(unnest({self._fts}.tokenize(?)), 'porter')", [query]
        ).fetchall() if r[0]]
        if not terms:
            return []
        found = con.execute(
            f"SELECT termid, df FROM {self._vocab} WHERE term IN "
            f"({', '.join(_literal(t) for t in terms)})").fetchall()
        if not found:
            return []
        if self._stats is None:
            self._stats = con.execute(f"SELECT num_docs, avgdl FROM {self._fts}.stats").fetchone()
        num_docs, avgdl = self._stats
        idf = ", ".join(f"({int(t)}, {self._idf(num_docs, df)!r})" for t, df in found)
        ids = ", ".join(str(int(t)) for t, _ in found)
        scored = con.execute(
            f"SELECT p.docid, sum(q.idf * p.tf * {_K1 + 1} / (p.tf + {_K1} * "
            f"({1 - _B} + {_B} * p.len / {float(avgdl)!r}))) AS score "
            f"FROM {self._post} p JOIN (VALUES {idf}) q(termid, idf) USING (termid) "
            f"WHERE p.termid IN ({ids}) GROUP BY p.docid ORDER BY score DESC, p.docid "
            f"LIMIT {int(limit)}").fetchall()
        if not scored:
            return []
        names = dict(con.execute(
            f"SELECT docid, name FROM {self._names} WHERE docid IN "
            f"({', '.join(str(int(d)) for d, _ in scored)})").fetchall())
        hits = [(names[d], round(float(s), 6)) for d, s in scored]
        return sorted(hits, key=lambda h: (-h[1], h[0]))

    @staticmethod
    def _idf(num_docs: int, df: int) -> float:
        return math.log((num_docs - df + 0.5) / (df + 0.5) + 1)

    def close(self) -> None:
        """Close the index connection."""
        with self._lock:
            self._con.close()
