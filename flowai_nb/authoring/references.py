"""References: large or structured values stored once and passed around by id."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import Field, PrivateAttr, field_validator

from ._base import SpecModel
from ._schema import CompiledSchema, compile_schema

__all__ = ["ReferenceSpec", "define_reference", "glimpse", "Glimpse"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ReferenceSpec(SpecModel):
    """A kind of reference: its name, JSON schema and time to live.

    The optional glimpse callback (``define_reference(glimpse=...)``) receives
    the validated value (a model instance when the schema is a pydantic model)
    and returns the short summary models and people see instead of the value.
    """

    name: str
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    ttl_ms: int | None = Field(default=None, ge=1)

    _compiled: CompiledSchema | None = PrivateAttr(default=None)
    _glimpse: Callable[[Any], Any] | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"reference name {value!r} must be 1-64 of letters, digits, '_.-'")
        return value

    @property
    def glimpse_callback(self) -> Callable[[Any], Any] | None:
        """The callback that summarises a value, if declared."""
        return self._glimpse

    def validate_value(self, value: Any) -> tuple[Any, Any]:
        """Validate ``value``; return ``(validated, json_payload)``. Raises ``ValueError``."""
        if self._compiled is None:
            self._compiled = compile_schema(self.json_schema or None, name=self.name)
        return self._compiled.validate(value, what=f"value for reference {self.name!r}")

    def __repr__(self) -> str:
        ttl = f", ttl_ms={self.ttl_ms}" if self.ttl_ms else ""
        return f"ReferenceSpec({self.name!r}{ttl})"


def define_reference(
    name: str,
    schema: Any = None,
    *,
    ttl_ms: int | None = None,
    glimpse: Callable[[Any], Any] | None = None,
) -> ReferenceSpec:
    """Declare a kind of reference.

    Args:
        name: the reference kind (``"sales_slice"``).
        schema: a pydantic model class, a JSON schema, a ``{field: type}``
            mapping, or ``None`` for any JSON value.
        ttl_ms: lifetime; resolving an expired reference raises an error naming its id.
        glimpse: ``glimpse(value) -> summary``, run once before storing.
    """
    compiled = compile_schema(schema, name=name)
    spec = ReferenceSpec(name=name, schema=compiled.json_schema, ttl_ms=ttl_ms)
    spec._compiled = compiled
    spec._glimpse = glimpse
    return spec


class Glimpse:
    """Marks the summary a tool returns beside a large value.

    A tool that returns ``(value, glimpse(summary))`` has ``value`` stored as a
    reference; the model sees the envelope with ``summary`` as its glimpse.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"glimpse({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Glimpse) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


def glimpse(value: Any) -> Glimpse:
    """Mark ``value`` as the glimpse (short summary) of a large tool result."""
    return Glimpse(value)
