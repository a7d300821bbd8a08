"""Typed plans: a planner stores them, a person approves them, an executor runs them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, PrivateAttr, field_validator

from ._base import SpecModel
from ._schema import CompiledSchema, compile_schema

__all__ = ["PlanSpec", "define_plan", "TaggedUnion"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def TaggedUnion(*models: type[BaseModel], tag: str = "kind") -> Any:  # noqa: N802 - type factory
    """A discriminated union of action models, usable in annotations.

    Each model needs a ``Literal`` field named ``tag``::

        class Restock(BaseModel):
            kind: Literal["restock"] = "restock"
            sku: str
            units: int

        class Plan(BaseModel):
            actions: list[TaggedUnion(Restock, Retire)]
    """
    if not models:
        raise TypeError("TaggedUnion needs at least one model")
    seen: dict[str, str] = {}
    for model in models:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"TaggedUnion members must be pydantic models; got {model!r}")
        field = model.model_fields.get(tag)
        values = get_args(field.annotation) if field is not None else ()
        if field is None or get_origin(field.annotation) is not Literal or not values:
            raise TypeError(
                f"{model.__name__} needs a field {tag}: Literal['...'] to be part of a TaggedUnion"
            )
        for value in values:
            if value in seen:
                raise TypeError(
                    f"tag {value!r} is used by both {seen[value]} and {model.__name__}"
                )
            seen[value] = model.__name__
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator=tag)]  # noqa: UP007


class PlanSpec(SpecModel):
    """A plan type: its name and the JSON schema of its body.

    The body must have an ``actions`` list whose items carry a ``kind`` tag;
    ``action_kinds`` lists the kinds the schema allows.
    """

    name: str
    json_schema: dict[str, Any] = Field(alias="schema")
    action_kinds: tuple[str, ...] = ()

    _compiled: CompiledSchema | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"plan name {value!r} must be 1-64 of letters, digits, '_.-'")
        return value

    def validate_body(self, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Validate a plan body; return ``(json_body, actions)``.

        Each action is ``{"kind", "payload", "references"}`` where ``payload``
        holds the action's fields other than ``kind`` and ``references``.
        Raises ``ValueError`` listing what is wrong.
        """
        if self._compiled is None:
            self._compiled = compile_schema(self.json_schema, name=self.name)
        _, data = self._compiled.validate(body, what=f"plan body for {self.name!r}")
        if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
            raise ValueError(f"plan body for {self.name!r} needs an 'actions' list")
        actions = []
        for i, raw in enumerate(data["actions"]):
            if not isinstance(raw, dict) or "kind" not in raw:
                raise ValueError(f"plan {self.name!r} action {i} has no 'kind'")
            refs = raw.get("references") or []
            payload = {k: v for k, v in raw.items() if k not in ("kind", "references")}
            actions.append({"kind": raw["kind"], "payload": payload, "references": refs})
        return data, actions

    def __repr__(self) -> str:
        return f"PlanSpec({self.name!r}, actions={list(self.action_kinds)})"


def _action_kinds(schema: dict[str, Any]) -> tuple[str, ...]:
    kinds: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and isinstance(props.get("kind"), dict):
                kind = props["kind"]
                for value in ([kind["const"]] if "const" in kind else kind.get("enum", [])):
                    if value not in kinds:
                        kinds.append(value)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema.get("$defs", {}))
    walk(schema.get("properties", {}).get("actions", {}))
    return tuple(kinds)


def define_plan(name: str, schema: Any) -> PlanSpec:
    """Declare a plan type from a pydantic model (or JSON schema) with an ``actions`` list.

    >>> class Plan(BaseModel):
    ...     rationale: str
    ...     actions: list[TaggedUnion(Restock, Retire)]
    >>> restock_plan = define_plan("restock", Plan)
    """
    compiled = compile_schema(schema, name=name)
    if "actions" not in compiled.json_schema.get("properties", {}):
        raise ValueError(f"plan {name!r}: the schema needs an 'actions' field (a list of actions)")
    spec = PlanSpec(name=name, schema=compiled.json_schema,
                    action_kinds=_action_kinds(compiled.json_schema))
    spec._compiled = compiled
    return spec
