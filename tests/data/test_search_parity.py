"""Catalog search ranks and scores exactly as DuckDB's ``fts`` extension does.

Our index is our own (sorted postings arrays) but its analysis and scoring
claim to be the extension's ``match_bm25``: the same top results with the
same scores, on a corpus with stop words, accents, digits, repeated words and
documents of very different lengths.
"""

from __future__ import annotations

import random

import pytest

from flowai_nb.authoring.data_environment import CatalogEntry, ColumnEntry
from flowai_nb.data import search
from flowai_nb.data._extensions import connect
from flowai_nb.data.search import CatalogSearch, document

WORDS = ("sales inventory store product customer order refund price margin region city "
         "supplier shipment return discount basket loyalty campaign channel forecast café "
         "the of and running runs runner 2024 q3").split()


def _corpus(n: int = 1500) -> list[CatalogEntry]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        words = rng.sample(WORDS, rng.randint(1, 4))
        prose = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30)))
        out.append(CatalogEntry(
            table=f"{'_'.join(words)}_{i}",
            description=f"{prose} Über-team {i % 13}",
            columns=[ColumnEntry(name=f"{w}_{j}", type="INTEGER") for j, w in enumerate(words)]))
    return out


def _extension_top(entries: list[CatalogEntry], queries: list[str], limit: int
                   ) -> list[list[tuple[str, float]]]:
    con = connect(extensions=("fts",))
    try:
        con.execute("CREATE TABLE docs (name VARCHAR, body VARCHAR)")
        con.executemany("INSERT INTO docs VALUES (?, ?)", [(e.table, document(e)) for e in entries])
        con.execute(r"PRAGMA create_fts_index('docs', 'name', 'body', "
                    r"ignore='(\\.|[^a-z0-9])+')")
        out = []
        for query in queries:
            rows = con.execute(
                "SELECT name, score FROM (SELECT name, fts_main_docs.match_bm25(name, ?) AS score "
                "FROM docs) WHERE score IS NOT NULL ORDER BY score DESC, name LIMIT ?",
                [query, limit]).fetchall()
            out.append([(name, round(score, 6)) for name, score in rows])
        return out
    finally:
        con.close()


@pytest.mark.parametrize("chunk", [200_000, 97])  # one analysis query, or many
def test_same_top_results_and_scores_as_duckdb_fts(chunk: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "_CHUNK", chunk)
    entries = _corpus()
    rng = random.Random(3)
    queries = [" ".join(rng.sample(WORDS, rng.randint(1, 3))) for _ in range(40)]
    queries += ["Cafe", "RUNNING the", "q3 2024", "über team 7", "order_id", "nothing-here zebra"]
    index = CatalogSearch(scope="parity")
    try:
        index.rebuild(entries)
        ours = [index.search(q, 10) for q in queries]
    finally:
        index.close()
    theirs = _extension_top(entries, queries, 10)
    assert sum(bool(r) for r in theirs) > 40  # the corpus really answers these queries
    for query, mine, ref in zip(queries, ours, theirs, strict=True):
        assert [name for name, _ in mine] == [name for name, _ in ref], query
        assert [score for _, score in mine] == pytest.approx([s for _, s in ref], abs=2e-6), query
