"""The data environment a runtime's agents query: target database, catalog, search index.

Pure data: these models describe *what* to connect to; :mod:`flowai_nb.data`
does the connecting. Every key is accepted in snake_case or camelCase::

    DataEnvironmentConfig(
        tenant_id="acme-retail",
        target_database_url="sqlite:///retail.db",
        catalog={"kind": "sqlite", "path": "catalog.db"},
        catalog_search={"index_path": "catalog_index.duckdb"},
    )
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from ._base import SpecModel
from .secrets import SECRET_INPUTS, reveal, secret_url
from .storage import StorageFactorySpec

__all__ = [
    "CATALOG_KINDS", "TARGET_KINDS", "CatalogConfig", "CatalogEntry", "CatalogSearchConfig",
    "ColumnEntry", "DataEnvironmentConfig", "DuckDBCatalog", "DuckDBTarget", "EmptyCatalog",
    "ForeignKey", "GlossaryTerm", "InlineCatalog", "PostgresCatalog", "PostgresTarget",
    "SqlSettings", "SqliteCatalog", "SqliteTarget", "TargetDatabase", "parse_target_url",
]

TARGET_KINDS = ("sqlite", "postgres", "duckdb")
CATALOG_KINDS = ("empty", "inline", "sqlite", "postgres", "duckdb")


# -- catalog entries -------------------------------------------------------------------------


class GlossaryTerm(SpecModel):
    """A business term and what it means, e.g. ``GlossaryTerm(term="GMV", definition=...)``."""

    term: str = Field(min_length=1)
    definition: str
    synonyms: list[str] = Field(default_factory=list)


class ColumnEntry(SpecModel):
    """One column of a catalogued table, with profile statistics when known."""

    name: str = Field(min_length=1)
    type: str = ""
    description: str | None = None
    null_rate: float | None = None
    distinct_count: int | None = None
    sample_values: list[Any] = Field(default_factory=list)


class ForeignKey(SpecModel):
    """A declared relationship: ``columns`` of this table reference ``references_table``."""

    columns: list[str]
    references_table: str
    references_columns: list[str]


class CatalogEntry(SpecModel):
    """What the catalog knows about one table.

    ``glossary`` carries business terms that belong to the table; the
    ``lookup_glossary`` tool searches them across all entries.
    """

    table: str = Field(min_length=1)
    description: str | None = None
    row_count: int | None = None
    columns: list[ColumnEntry] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    glossary: list[GlossaryTerm] = Field(default_factory=list)

    def column(self, name: str) -> ColumnEntry | None:
        """The column called ``name`` (case-insensitive), or ``None``."""
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)


# -- target databases ------------------------------------------------------------------------


class SqliteTarget(SpecModel):
    """A SQLite file: ``{"kind": "sqlite", "path": "retail.db"}``."""

    kind: Literal["sqlite"] = "sqlite"
    path: str = Field(min_length=1)


class DuckDBTarget(SpecModel):
    """A DuckDB file: ``{"kind": "duckdb", "path": "warehouse.duckdb"}``."""

    kind: Literal["duckdb"] = "duckdb"
    path: str = Field(min_length=1)


class PostgresTarget(SpecModel):
    """A PostgreSQL database: ``{"kind": "postgres", "url": "postgresql://user@host/db"}``.

    A URL with a password is held as a ``SecretUrl`` (dumps and reprs hide the
    password); :func:`~flowai_nb.authoring.secrets.reveal` gives the plain URL.
    """

    model_config = SECRET_INPUTS

    kind: Literal["postgres"] = "postgres"
    url: str | SecretStr = Field(min_length=1)

    _secret_url = field_validator("url", mode="before")(lambda cls, v: secret_url(v))


TargetDatabase = Annotated[SqliteTarget | DuckDBTarget | PostgresTarget,
                           Field(discriminator="kind")]


# -- catalogs --------------------------------------------------------------------------------


class EmptyCatalog(SpecModel):
    """A catalog that starts empty (entries may be added at run time)."""

    kind: Literal["empty"] = "empty"


class InlineCatalog(SpecModel):
    """Catalog entries given in the config itself."""

    kind: Literal["inline"] = "inline"
    entries: list[CatalogEntry] = Field(default_factory=list)


class SqliteCatalog(SpecModel):
    """Catalog entries stored in a SQLite file (table ``table``)."""

    kind: Literal["sqlite"] = "sqlite"
    path: str = Field(min_length=1)
    table: str = "flowai_catalog"


class DuckDBCatalog(SpecModel):
    """Catalog entries stored in a DuckDB file (table ``table``)."""

    kind: Literal["duckdb"] = "duckdb"
    path: str = Field(min_length=1)
    table: str = "flowai_catalog"


class PostgresCatalog(SpecModel):
    """Catalog entries stored in a PostgreSQL database (table ``table``)."""

    model_config = SECRET_INPUTS

    kind: Literal["postgres"] = "postgres"
    url: str | SecretStr = Field(min_length=1)
    table: str = "flowai_catalog"

    _secret_url = field_validator("url", mode="before")(lambda cls, v: secret_url(v))


CatalogConfig = Annotated[
    EmptyCatalog | InlineCatalog | SqliteCatalog | DuckDBCatalog | PostgresCatalog,
    Field(discriminator="kind"),
]


class CatalogSearchConfig(SpecModel):
    """The catalog's full-text (BM25) index.

    Attributes:
        index_path: a DuckDB file holding the index; ``None`` keeps it in memory.
        rebuild_on_start: rebuild from the catalog on start even if the file has an index.
        write_through: adding a catalog entry updates the index too.
    """

    index_path: str | None = None
    rebuild_on_start: bool = False
    write_through: bool = True


class SqlSettings(SpecModel):
    """Limits of agent SQL (the ``sql`` toolkit and ``DataEnvironment.run_sql``).

    Attributes:
        timeout_s: a query running longer is interrupted (``TimeoutError``), fetching included.
        max_rows: the most rows one result keeps (inline or in its reference).
        max_bytes: the most bytes one result keeps, as JSON; rows past it are left out.
        memory_limit: DuckDB's ``memory_limit`` for the embedded database (e.g. ``"1GB"``).
        threads: DuckDB worker threads for agent queries.
    """

    timeout_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    max_rows: int = Field(default=100_000, ge=1)
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    memory_limit: str = Field(default="1GB", pattern=r"^\s*\d+(\.\d+)?\s*[KMGT]i?B\s*$")
    threads: int = Field(default=2, ge=1, le=256)


# -- the config ------------------------------------------------------------------------------

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_DUCKDB_SUFFIXES = (".duckdb", ".ddb")


def parse_target_url(url: str) -> SqliteTarget | DuckDBTarget | PostgresTarget:
    """Turn a database URL or file path into a target descriptor.

    Accepted: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``duckdb:///path.duckdb``, ``postgresql://user@host:5432/db``,
    ``postgres://...`` (also ``postgresql+psycopg://...``), and plain paths
    ending in ``.db``/``.sqlite``/``.sqlite3`` (SQLite) or ``.duckdb``/``.ddb``.

    Raises:
        ValueError: naming the URL and the accepted forms.
    """
    url, shown = reveal(url), secret_url(url)  # messages show the URL without its password
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"target_database_url must be a non-empty string, got {url!r}")
    text = url.strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return PostgresTarget(url=f"{base}://{text.split('://', 1)[1]}")
    if base in ("sqlite", "duckdb"):
        path = unquote(urlsplit(text).path)
        path = path[1:] if path.startswith("/") else path
        if not path or path == ":memory:":
            raise ValueError(f"target_database_url {shown!r} names no database file")
        return SqliteTarget(path=path) if base == "sqlite" else DuckDBTarget(path=path)
    if not scheme and not text.lower().startswith(("sqlite:", "duckdb:", "postgres")):
        lowered = text.lower()
        if lowered.endswith(_SQLITE_SUFFIXES):
            return SqliteTarget(path=text)
        if lowered.endswith(_DUCKDB_SUFFIXES):
            return DuckDBTarget(path=text)
    raise ValueError(
        f"unsupported target_database_url {shown!r}; expected sqlite:///path.db, "
        "duckdb:///path.duckdb, postgresql://user@host:5432/db, postgres://..., or a file path "
        "ending in .db, .sqlite, .sqlite3, .duckdb or .ddb"
    )


def _check_kind(value: Any, field: str, kinds: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        kind = value.get("kind")
        if kind not in kinds:
            raise ValueError(
                f"unsupported {field} kind {kind!r}; supported kinds: {', '.join(kinds)}"
            )
    return value


class DataEnvironmentConfig(SpecModel):
    """Where agent data tools read from, and how the catalog is kept.

    All keys are optional (``DataEnvironmentConfig()`` is valid); ``create_runtime``
    pins an environment without ``tenant_id`` to the runtime's tenant.

    Attributes:
        tenant_id: when set, must equal the runtime tenant's resource id (see
            :meth:`check_tenant`; the tenant key ``"id@version"`` is accepted too).
        workspace_id: optional sub-scope within the tenant (catalog rows are keyed by it).
        (URLs with a password are ``SecretStr`` values: dumps and reprs hide it.)
        kv: a store descriptor (``memory``, ``sqlite``, ``postgres``, ``redis``, ``duckdb``).
        target_database: a descriptor of the database agents query (sqlite, postgres, duckdb).
        target_database_url: the same as a URL or file path; exclusive with ``target_database``.
        target_database_schema: the schema to expose (default ``main``; ``public`` on postgres).
        catalog: ``empty``, ``inline`` (entries here), or ``sqlite``/``postgres``/``duckdb``
            (entries stored there). Unset with a target: profiled from the target on first use.
        catalog_search: the full-text index settings.
        sql: limits of agent SQL: timeout, row and byte caps, DuckDB memory and threads.
    """

    model_config = SECRET_INPUTS

    tenant_id: str | None = Field(default=None, min_length=1)
    workspace_id: str | None = None
    kv: StorageFactorySpec | None = None
    target_database: TargetDatabase | None = None
    target_database_url: str | SecretStr | None = None
    target_database_schema: str | None = None
    catalog: CatalogConfig | None = None
    catalog_search: CatalogSearchConfig | None = None
    sql: SqlSettings = Field(default_factory=SqlSettings)

    @field_validator("tenant_id", mode="before")
    @classmethod
    def _tenant_from_identity(cls, value: Any) -> Any:
        return getattr(value, "resource_id", value)

    @field_validator("tenant_id", "workspace_id")
    @classmethod
    def _no_separator(cls, value: str | None) -> str | None:
        # "tenant/workspace" is a storage key: a '/' in either part could reach another's rows.
        if value is not None and "/" in value:
            raise ValueError(f"tenant and workspace ids cannot contain '/'; got {value!r}")
        return value

    @field_validator("target_database", mode="before")
    @classmethod
    def _target_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_target_url(value)
        return _check_kind(value, "target_database", TARGET_KINDS)

    @field_validator("catalog", mode="before")
    @classmethod
    def _catalog_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = {"kind": value}
        return _check_kind(value, "catalog", CATALOG_KINDS)

    @field_validator("target_database_url", mode="before")
    @classmethod
    def _secret_url(cls, value: Any) -> Any:
        return secret_url(value)

    @field_validator("target_database_url")
    @classmethod
    def _url_parses(cls, value: Any) -> Any:
        if value is not None:
            parse_target_url(value)
        return value

    @model_validator(mode="after")
    def _exclusive_target(self) -> DataEnvironmentConfig:
        if self.target_database is not None and self.target_database_url is not None:
            raise ValueError(
                "give either target_database or target_database_url, not both "
                f"(got {self.target_database.kind!r} and {self.target_database_url!r})"
            )
        return self

    @property
    def target(self) -> SqliteTarget | DuckDBTarget | PostgresTarget | None:
        """The target descriptor, from ``target_database`` or ``target_database_url``."""
        if self.target_database_url is not None:
            return parse_target_url(self.target_database_url)
        return self.target_database

    @property
    def scope(self) -> str:
        """``tenant_id`` or ``tenant_id/workspace_id``: the key catalog rows are stored under."""
        if self.tenant_id is None:
            raise ValueError("this data environment has no tenant_id yet; create_runtime sets "
                             "it to the runtime tenant (or pass tenant_id=...)")
        return f"{self.tenant_id}/{self.workspace_id}" if self.workspace_id else self.tenant_id

    def check_tenant(self, tenant: Any) -> None:
        """Raise ``ValueError`` unless ``tenant`` is this config's tenant.

        ``tenant`` is a tenant id string or a ``TenantIdentity`` (its
        ``resource_id`` or its ``key`` ``"id@version"`` must match).
        """
        if self.tenant_id is None:
            return
        names = {tenant} if isinstance(tenant, str) else {
            getattr(tenant, "resource_id", None), getattr(tenant, "key", None)}
        if self.tenant_id not in names:
            shown = tenant if isinstance(tenant, str) else getattr(tenant, "key", tenant)
            raise ValueError(
                f"data environment tenant_id {self.tenant_id!r} does not match the runtime "
                f"tenant {shown!r}; set tenant_id to the runtime tenant's resource id"
            )
