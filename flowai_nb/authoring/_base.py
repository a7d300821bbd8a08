"""Shared base for every spec model: frozen, camelCase on the wire, both spellings in."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["SpecModel"]


class SpecModel(BaseModel):
    """Base of all authoring models.

    Frozen (hashable by value where fields allow), attributes in snake_case,
    the wire form (``model_dump(by_alias=True)``, JSON) in camelCase, and both
    spellings accepted on input. Unknown keys are rejected so typos surface.
    """

    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        ser_json_inf_nan="constants",
    )

    def __eq__(self, other: object) -> bool:
        # Compare fields only: bound handlers and compiled schemas are private
        # attributes and must not make a round-tripped spec unequal.
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__  # type: ignore[union-attr]

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.__repr__()

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready wire form: camelCase keys, ``None`` fields kept."""
        return self.model_dump(mode="json", by_alias=True)
