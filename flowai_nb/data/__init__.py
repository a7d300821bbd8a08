"""The data environment: DuckDB over the analyst's databases, the catalog, and its search.

Names are imported lazily so ``import flowai_nb.data`` does not import
DuckDB or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import (
        Catalog,
        UnknownTable,
        export_catalog,
        import_catalog,
        profile_catalog,
    )
    from .environment import DataEnvironment, SQLError
    from .sample import make_sample_sqlite, sample_catalog
    from .search import CatalogSearch
    from .sql_guard import SQLRefused
    from .toolkits import TOOLKIT_HANDLERS

_EXPORTS = {
    "DataEnvironment": "environment", "SQLError": "environment", "SQLRefused": "sql_guard",
    "Catalog": "catalog", "UnknownTable": "catalog", "profile_catalog": "catalog",
    "export_catalog": "catalog", "import_catalog": "catalog", "CatalogSearch": "search",
    "TOOLKIT_HANDLERS": "toolkits", "make_sample_sqlite": "sample", "sample_catalog": "sample",
}
__all__ = [
    "Catalog", "CatalogSearch", "DataEnvironment", "SQLError", "SQLRefused", "TOOLKIT_HANDLERS",
    "UnknownTable", "export_catalog", "import_catalog", "make_sample_sqlite", "profile_catalog",
    "sample_catalog",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
