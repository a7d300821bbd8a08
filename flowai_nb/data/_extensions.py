"""Load DuckDB extensions from their Python packages, by path: no network, no ``INSTALL``.

Each extension (``sqlite_scanner``, ``postgres_scanner``, ``fts``) ships as a
package ``duckdb-extension-<name>`` whose version matches DuckDB's and holds
one file ``extensions/v<version>/<name>.duckdb_extension``.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

__all__ = ["extension_path", "load_extension", "connect"]

_PACKAGES = {
    "sqlite": "duckdb_extension_sqlite_scanner",
    "postgres": "duckdb_extension_postgres_scanner",
    "fts": "duckdb_extension_fts",
}


@functools.cache
def extension_path(name: str) -> str:
    """The ``.duckdb_extension`` file of extension ``name`` (``sqlite``, ``postgres``, ``fts``).

    Raises:
        ValueError: for an unknown name.
        ImportError: when the extension package is not installed (names the pip package).
    """
    if name not in _PACKAGES:
        raise ValueError(f"unknown DuckDB extension {name!r}; expected one of {sorted(_PACKAGES)}")
    package = _PACKAGES[name]
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        pip_name = package.replace("_", "-")
        raise ImportError(
            f"the DuckDB {name} extension needs the {pip_name!r} package "
            f"(pip install {pip_name}, same version as duckdb)"
        ) from exc
    import duckdb

    root = Path(module.__file__).parent / "extensions"
    files = sorted(root.glob(f"v{duckdb.__version__}/*.duckdb_extension")) or sorted(
        root.glob("*/*.duckdb_extension"))
    if not files:
        raise ImportError(f"package {package!r} holds no .duckdb_extension file under {root}")
    return str(files[0])


def load_extension(con: Any, name: str) -> None:
    """``LOAD`` extension ``name`` into DuckDB connection ``con`` from its package file."""
    path = extension_path(name).replace("'", "''")
    con.execute(f"LOAD '{path}'")


def connect(database: str = ":memory:", *, extensions: tuple[str, ...] = (),
            read_only: bool = False) -> Any:
    """A DuckDB connection that never downloads extensions, with ``extensions`` loaded."""
    import duckdb

    con = duckdb.connect(database, read_only=read_only, config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for name in extensions:
        load_extension(con, name)
    return con
