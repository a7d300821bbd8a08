"""The tenant: who owns everything a runtime stores."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ._base import SpecModel

__all__ = ["TenantIdentity", "define_tenant"]


class TenantIdentity(SpecModel):
    """Identifies the tenant a runtime works for.

    References, plans, approvals, traces, eval runs and kv entries are stored
    under :attr:`key`, so two runtimes with different tenants sharing one store
    never see each other's data.

    Attributes:
        resource_id: the tenant's stable id (``resourceId`` on the wire).
        version: the tenant configuration's version.
        meta: free-form JSON metadata (display name, owner, ...).
    """

    resource_id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("resource_id", "version")
    @classmethod
    def _no_separators(cls, value: str) -> str:
        # The tenant key is a storage namespace: a '/' could reach another tenant's keys.
        if "/" in value or "@" in value:
            raise ValueError(f"tenant ids and versions cannot contain '/' or '@'; got {value!r}")
        return value

    @property
    def key(self) -> str:
        """The storage namespace of this tenant: ``"<resource_id>@<version>"``."""
        return f"{self.resource_id}@{self.version}"

    def __repr__(self) -> str:
        return f"TenantIdentity({self.key!r})"


def define_tenant(resource_id: str, version: str | int, **meta: Any) -> TenantIdentity:
    """Declare the tenant a runtime serves.

    >>> define_tenant("acme-retail", "1", team="analytics")
    TenantIdentity('acme-retail@1')
    """
    return TenantIdentity(resource_id=resource_id, version=version, meta=meta)
