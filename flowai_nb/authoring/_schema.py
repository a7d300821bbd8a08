"""Turning the schema forms users write into one JSON schema plus an optional model.

A schema may be a pydantic model class, a JSON schema mapping, or a
``{field: python_type}`` mapping (``(type, default)`` tuples allowed). Values
are validated with the pydantic model when there is one (so callbacks receive
model instances), otherwise with ``jsonschema``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

__all__ = ["CompiledSchema", "compile_schema", "SchemaError"]

_JSON_SCHEMA_KEYS = {"type", "properties", "$ref", "$defs", "anyOf", "oneOf", "allOf", "enum",
                     "items", "required", "additionalProperties", "const", "title"}


class SchemaError(ValueError):
    """A value does not match a schema. The message lists every problem."""


class CompiledSchema:
    """A JSON schema and, when known, the pydantic model behind it."""

    __slots__ = ("json_schema", "model", "from_mapping")

    def __init__(self, json_schema: dict[str, Any], model: type[BaseModel] | None,
                 from_mapping: bool = False) -> None:
        self.json_schema = json_schema
        self.model = model
        self.from_mapping = from_mapping

    def validate(self, value: Any, *, what: str) -> tuple[Any, Any]:
        """Validate ``value``; return ``(validated, json_form)``.

        ``validated`` is a model instance when the schema came from a pydantic
        model class, otherwise plain JSON data. Raises :class:`SchemaError`
        whose message starts with ``what``.
        """
        if self.model is not None:
            try:
                if isinstance(value, self.model):
                    inst = value
                else:
                    inst = self.model.model_validate(value)
            except ValidationError as exc:
                raise SchemaError(f"{what}: {_pydantic_problems(exc)}") from None
            data = inst.model_dump(mode="json", by_alias=True)
            return (data if self.from_mapping else inst), data
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", by_alias=True)
        import jsonschema  # lazy: only JSON-schema-only specs need it

        validator = jsonschema.Draft202012Validator(self.json_schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            problems = "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5]
            )
            raise SchemaError(f"{what}: {problems}")
        return value, value


def _pydantic_problems(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def _is_type_like(value: Any) -> bool:
    if isinstance(value, type):
        return True
    if isinstance(value, types.UnionType | types.GenericAlias):
        return True
    return typing.get_origin(value) is not None or value is Any


def compile_schema(schema: Any, *, name: str) -> CompiledSchema:
    """Compile a user schema (model class, JSON schema or ``{field: type}``).

    ``None`` means "any JSON value". Raises ``TypeError`` naming the schema
    when it is none of the accepted forms.
    """
    if schema is None:
        return CompiledSchema({}, None)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return CompiledSchema(schema.model_json_schema(), schema)
    if isinstance(schema, dict):
        if not schema or set(schema) & _JSON_SCHEMA_KEYS and not all(
            _is_type_like(v) or isinstance(v, tuple) for v in schema.values()
        ):
            return CompiledSchema(dict(schema), None)
        fields: dict[str, Any] = {}
        for key, spec in schema.items():
            if isinstance(spec, tuple) and len(spec) == 2:
                fields[key] = spec
            elif _is_type_like(spec):
                fields[key] = (spec, ...)
            else:
                raise TypeError(
                    f"schema {name!r}: field {key!r} maps to {spec!r}; expected a Python type "
                    f"or a (type, default) tuple, or pass a full JSON schema"
                )
        model = create_model(  # type: ignore[call-overload]
            _model_name(name), __config__=ConfigDict(extra="forbid"), **fields
        )
        return CompiledSchema(model.model_json_schema(), model, from_mapping=True)
    raise TypeError(
        f"schema for {name!r} must be a pydantic model class, a JSON schema dict or a "
        f"{{field: type}} mapping; got {type(schema).__name__}"
    )


def _model_name(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("-", "_").split("_") if p) + "Args"
