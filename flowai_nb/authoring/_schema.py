"""Turning the schema forms users write into one JSON schema plus an optional model.

A schema may be a pydantic model class, a JSON schema mapping, or a
``{field: python_type}`` mapping (``(type, default)`` tuples allowed). Values
are validated with the pydantic model when there is one (so callbacks receive
model instances). Plain JSON schemas made of the common keywords (``type``,
``properties``, ``required``, ``additionalProperties``, ``anyOf``, ``enum``,
``minimum``, ``maximum``, ``items``) take a small built-in validator that
agrees with ``jsonschema`` (Draft 2020-12) on every value, which a property
test checks; every other schema is validated by ``jsonschema`` itself.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

__all__ = ["CompiledSchema", "compile_schema", "SchemaError"]

_JSON_SCHEMA_KEYS = {"type", "properties", "$ref", "$defs", "anyOf", "oneOf", "allOf", "enum",
                     "items", "required", "additionalProperties", "const", "title", "$schema",
                     "$comment", "description", "minimum", "maximum", "not", "format"}


class SchemaError(ValueError):
    """A value does not match a schema. The message lists every problem."""


class CompiledSchema:
    """A JSON schema and, when known, the pydantic model behind it."""

    __slots__ = ("json_schema", "model", "from_mapping", "_simple", "_validator")

    def __init__(self, json_schema: dict[str, Any], model: type[BaseModel] | None,
                 from_mapping: bool = False) -> None:
        self.json_schema = json_schema
        self.model = model
        self.from_mapping = from_mapping
        self._simple: bool | None = None
        self._validator: Any = None

    def __repr__(self) -> str:
        source = self.model.__name__ if self.model is not None else "JSON schema"
        return f"CompiledSchema({source}, keys={sorted(self.json_schema)})"

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
        if self._simple is None:
            self._simple = _is_simple(self.json_schema)
        if self._simple:
            problems = list(_simple_problems(self.json_schema, value, ""))
            if problems:
                raise SchemaError(f"{what}: {'; '.join(problems[:5])}")
            return value, value
        if self._validator is None:
            import jsonschema  # lazy and slow to import: only for schemas the fast path can't read

            self._validator = jsonschema.Draft202012Validator(self.json_schema)
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            problems = "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in errors[:5]
            )
            raise SchemaError(f"{what}: {problems}")
        return value, value


_SIMPLE_KEYS = {"type", "properties", "required", "additionalProperties", "anyOf", "minimum",
                "maximum", "enum", "description", "default", "title", "items"}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}


def _is_simple(schema: Any) -> bool:
    """Whether the small built-in validator understands every keyword of ``schema``.

    Anything else (other keywords, malformed keyword values) goes to ``jsonschema``.
    """
    if not isinstance(schema, dict) or not set(schema) <= _SIMPLE_KEYS:
        return False
    kind = schema.get("type", "object")
    if not isinstance(kind, str) or kind not in _TYPES:
        return False
    props = schema.get("properties", {})
    any_of = schema.get("anyOf", [None])
    if not (isinstance(props, dict) and isinstance(any_of, list) and any_of
            and isinstance(schema.get("enum", []), list)
            and isinstance(schema.get("required", []), list)
            and all(isinstance(n, str) for n in schema.get("required", []))
            and isinstance(schema.get("additionalProperties", True), bool)
            and all(_is_number(schema.get(k, 0)) for k in ("minimum", "maximum"))):
        return False
    children = list(props.values()) + [c for c in any_of if c is not None]
    if "items" in schema:
        children.append(schema["items"])
    return all(_is_simple(child) for child in children)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_type(value: Any, kind: str) -> bool:
    """JSON-schema ``type`` semantics: bools are not numbers, ``1.0`` is an integer."""
    if kind == "integer":
        return _is_number(value) and (isinstance(value, int) or value.is_integer())
    if kind == "number":
        return _is_number(value)
    return isinstance(value, _TYPES[kind])


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality as ``enum`` and ``const`` use it: ``True`` is not ``1``, ``1.0`` is."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return a == b


def _simple_problems(schema: dict[str, Any], value: Any, path: str) -> Any:
    """Yield what is wrong with ``value`` (JSON-schema semantics for the simple subset)."""
    where = path or "<root>"
    if "anyOf" in schema and all(
        any(True for _ in _simple_problems(option, value, path)) for option in schema["anyOf"]
    ):
        yield f"{where}: {value!r} is not valid under any of the given schemas"
    kind = schema.get("type")
    if kind is not None and not _is_type(value, kind):
        yield f"{where}: {value!r} is not of type {kind!r}"
        return
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        yield f"{where}: {value!r} is not one of {schema['enum']!r}"
    if _is_number(value):
        if "minimum" in schema and value < schema["minimum"]:
            yield f"{where}: {value!r} is less than the minimum of {schema['minimum']!r}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"{where}: {value!r} is greater than the maximum of {schema['maximum']!r}"
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                yield f"{where}: {name!r} is a required property"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props), key=str)
            if extra:
                yield f"{where}: additional properties are not allowed ({extra} unexpected)"
        for name, sub in props.items():
            if name in value:
                yield from _simple_problems(sub, value[name], f"{path}/{name}".lstrip("/"))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from _simple_problems(schema["items"], item, f"{path}/{i}".lstrip("/"))


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
