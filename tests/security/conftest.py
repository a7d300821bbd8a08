"""The attack suite: hostile SQL over every target kind, tenants, approvals, secrets."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # plain `pytest` does not put the project root on sys.path
    sys.path.insert(0, _ROOT)

from flowai_nb.data import make_sample_sqlite  # noqa: E402
from tests.servers import *  # noqa: E402,F401,F403

SECRET_ROLE = "flowai_secret"
RIGHT_PASSWORD = "Right-pw-7Qx81zA"
WRONG_PASSWORD = "Wrong-pw-9vT3kLm"


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Path:
    """A fresh copy of the sample retail database as a SQLite target file."""
    return make_sample_sqlite(tmp_path / "retail.db", seed=0)


@pytest.fixture
def duckdb_target(tmp_path: Path, sqlite_target: Path) -> Path:
    """The same data as a DuckDB target file."""
    from flowai_nb.data._extensions import connect, load_extension

    path = tmp_path / "retail.duckdb"
    con = connect(str(path))
    load_extension(con, "sqlite")
    con.execute(f"ATTACH '{sqlite_target}' AS src (TYPE sqlite, READ_ONLY)")
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()]
    for name in names:
        con.execute(f'CREATE TABLE main."{name}" AS SELECT * FROM src."{name}"')
    con.execute("DETACH src")
    con.execute("CHECKPOINT")
    con.close()
    return path


@pytest.fixture
def postgres_target(fresh_postgres_url: str) -> str:
    """A fresh PostgreSQL database with a small ``orders`` table and a ``secrets`` table."""
    import psycopg

    with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, amount numeric, region text)")
        conn.execute("INSERT INTO orders SELECT i, i * 1.5, 'r' || (i % 3) "
                     "FROM generate_series(1, 50) i")
        conn.execute("CREATE SCHEMA private")
        conn.execute("CREATE TABLE private.keys (k text)")
        conn.execute("INSERT INTO private.keys VALUES ('top-secret')")
    return fresh_postgres_url


def postgres_rows(url: str) -> list[tuple]:
    """Everything the PostgreSQL target holds (to compare before and after an attack)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return (conn.execute("SELECT * FROM orders ORDER BY id").fetchall()
                + conn.execute("SELECT * FROM private.keys").fetchall()
                + conn.execute("SELECT schemaname || '.' || tablename FROM pg_tables "
                               "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                               "ORDER BY 1").fetchall())


@pytest.fixture(scope="session")
def password_postgres(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL role that must log in with a password (scram), on the session server.

    Yields the server's URL template ``postgresql://{user}:{password}@host:port/db``
    parts as a URL *without* credentials; build credentials into it in the test.
    """
    import psycopg

    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        conn.execute(f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{RIGHT_PASSWORD}'")
        original = hba.read_text()
        line = f"host all {SECRET_ROLE} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(line + original)  # first match wins: only this role needs a password
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield postgres_url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            hba.write_text(original)
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE IF EXISTS {SECRET_ROLE}")
