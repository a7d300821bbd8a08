"""The one JSON rule of flowai_nb: what any Python value becomes on the wire.

Every surface (tool results and arguments the model sees, events, traces,
stores, widgets, SQL rows) goes through this module, so a value means the
same thing everywhere:

- ``None``, ``bool``, ``int``, ``str`` and finite ``float`` stay as they are
  (a ``str`` holding lone surrogates, i.e. undecodable bytes, gets U+FFFD).
- ``NaN``, ``inf`` and ``-inf`` (also as ``Decimal``) become ``null``; the
  JSON path of each is reported through ``nulled`` so callers can flag it.
- mappings become objects (keys as text), lists / tuples / sets become arrays,
  dates and times ISO text, ``timedelta`` seconds, ``Decimal`` a number,
  ``UUID`` and paths text, enums their value, pydantic models and dataclasses
  their fields; anything else its ``repr()``.
- ``bytes``, cycles, nesting deeper than :data:`MAX_DEPTH` and a ``repr()``
  that raises are refused with :class:`JSONValueError` naming the path.

:func:`dumps` writes strict JSON (never the ``NaN`` token) under the same rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "JSONValueError", "to_json_value", "cell_value", "dumps"]

MAX_DEPTH = 200
"""The deepest nesting a JSON value may have (a tool result, an argument, a stored value)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONValueError(ValueError):
    """A value that has no JSON form (bytes, a cycle, too deep, a raising ``repr``).

    Attributes:
        path: where in the value, as a JSON path such as ``$.rows[3]``.
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def _path(parts: list[Any]) -> str:
    shown = parts if len(parts) <= 12 else [*parts[:6], None, *parts[-3:]]
    return "$" + "".join("..." if p is None else f"[{p}]" if isinstance(p, int) else f".{p}"
                         for p in shown)


def _text(value: str) -> str:
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return _SURROGATE.sub("\ufffd", value)
    return value


class _Walker:
    __slots__ = ("nulled", "blobs_as_hex", "strict", "parts", "active")

    def __init__(self, nulled: list[str] | None, blobs_as_hex: bool = False,
                 strict: bool = False) -> None:
        self.nulled = nulled
        self.blobs_as_hex = blobs_as_hex
        self.strict = strict
        self.parts: list[Any] = []
        self.active: set[int] = set()

    def null(self) -> None:
        if self.nulled is not None:
            self.nulled.append(_path(self.parts))

    def fail(self, message: str) -> JSONValueError:
        where = _path(self.parts)
        return JSONValueError(f"{message} at {where}", where)

    def walk(self, value: Any) -> Any:
        cls = type(value)
        if cls is str:
            return value if value.isascii() else _text(value)
        if cls is int or cls is bool or value is None:
            return value
        if cls is float:
            if math.isfinite(value):
                return value
            self.null()
            return None
        if isinstance(value, Mapping | list | tuple | set | frozenset) and not (
                self.strict and isinstance(value, set | frozenset)):
            if len(self.parts) >= MAX_DEPTH:
                raise self.fail(f"value is nested deeper than {MAX_DEPTH} levels")
            key = id(value)
            if key in self.active:
                raise self.fail("value contains a cycle (a container inside itself)")
            self.active.add(key)
            parts = self.parts
            try:
                if isinstance(value, Mapping):
                    out: Any = {}
                    for k, v in value.items():
                        k = k if type(k) is str else self._key(k)
                        parts.append(k)
                        out[k] = self.walk(v)
                        parts.pop()
                else:
                    items = value if isinstance(value, list | tuple) else _ordered(value)
                    out = []
                    for i, v in enumerate(items):
                        parts.append(i)
                        out.append(self.walk(v))
                        parts.pop()
            finally:
                self.active.discard(key)
            return out
        return self._other(value)

    def _key(self, key: Any) -> str:
        if self.strict and not isinstance(key, str | int | float | bool | type(None)):
            raise self.fail(f"key {key!r} is not JSON text")
        if isinstance(key, str):
            return _text(str.__str__(key))
        if isinstance(key, enum.Enum):
            key = key.value
        if isinstance(key, bool) or key is None:
            return json.dumps(key)
        if isinstance(key, int | float | decimal.Decimal | uuid.UUID):
            return str(key)
        converted = self._other(key)
        return converted if isinstance(converted, str) else json.dumps(converted)

    def _other(self, value: Any) -> Any:
        if self.strict and not isinstance(value, str | int | float):
            raise self.fail(f"{type(value).__name__} is not a JSON type")
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, enum.Enum):
            return self.walk(value.value)
        if isinstance(value, str):
            return _text(str.__str__(value))
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return self.walk(float(value))
        if isinstance(value, decimal.Decimal):
            if not value.is_finite():
                self.null()
                return None
            if value == value.to_integral_value() and abs(value) < 2**53:
                return int(value)
            as_float = float(value)
            return self.walk(as_float)
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return value.total_seconds()
        if isinstance(value, uuid.UUID | os.PathLike):
            return str(value) if isinstance(value, uuid.UUID) else os.fspath(value)
        if isinstance(value, bytes | bytearray | memoryview):
            if self.blobs_as_hex:
                return bytes(value).hex()
            raise self.fail(f"{type(value).__name__} value has no JSON form (decode it to text "
                            "or encode it as base64 first)")
        return self.walk(self._fields(value))

    def _fields(self, value: Any) -> Any:
        if hasattr(value, "model_dump") and hasattr(type(value), "model_fields"):
            return value.model_dump(by_alias=True)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        for method in ("tolist", "item"):  # numpy and pandas scalars / arrays
            convert = getattr(value, method, None)
            if callable(convert) and not isinstance(value, type):
                try:
                    return convert()
                except Exception:  # noqa: S112 - try the next form
                    continue
        try:
            return repr(value)
        except Exception as exc:
            raise self.fail(f"{type(value).__name__} value has no JSON form and its repr() "
                            f"raised {type(exc).__name__}: {exc}") from None


def _ordered(items: set | frozenset) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def to_json_value(value: Any, *, nulled: list[str] | None = None,
                  blobs_as_hex: bool = False, strict: bool = False) -> Any:
    """``value`` as plain JSON data under the package's one rule (see the module docs).

    Args:
        value: any Python value.
        nulled: when given, the JSON path of every NaN / infinity turned into ``null``
            is appended to it (so the caller can flag it).
        blobs_as_hex: ``bytes`` become hex text instead of an error (database BLOB cells).
        strict: accept only JSON's own types (dict, list, tuple, str, int, float, bool,
            None); NaN and infinities still become null. Stores use this.

    Raises:
        JSONValueError: bytes, a cycle, nesting deeper than :data:`MAX_DEPTH`, or an
            object whose ``repr()`` raises; the message names the path.
    """
    return _Walker(nulled, blobs_as_hex, strict).walk(value)


def cell_value(value: Any) -> Any:
    """A database or table cell as JSON: :func:`to_json_value` with BLOBs as hex text."""
    if value is None or type(value) in (str, int, bool):
        return value
    return _Walker(None, blobs_as_hex=True).walk(value)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _c_encoders() -> dict[bool, Any] | None:
    """Compact, NaN-refusing C encoders (by ``ensure_ascii``), built once: no circular
    check (a cycle hits the recursion limit and takes the checked path instead)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - a Python without the C accelerator
        return None
    return {ascii_only: make(None, _refuse, json.encoder.encode_basestring_ascii if ascii_only
                             else json.encoder.encode_basestring, None, ":", ",", False, False,
                             False)
            for ascii_only in (True, False)}


_C_ENCODERS = _c_encoders()

_ORJSON_PLAIN = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                 | orjson.OPT_PASSTHROUGH_SUBCLASS)
"""orjson writes only JSON's own types (and enums and UUIDs, as the rule does); anything
else goes to ``default`` (refused) and then through the rule's own conversion."""


def dumps(value: Any, *, sort_keys: bool = False, indent: int | None = None,
          ensure_ascii: bool = False, strict: bool = False, compact: bool = True) -> str:
    """Strict JSON text of ``value`` under the one rule (compact unless ``indent``);
    ``strict`` as in :func:`to_json_value`; ``compact=False`` puts a space after
    ``,`` and ``:`` (for display).

    Raises:
        JSONValueError: as :func:`to_json_value`.
    """
    if indent is None and compact and not sort_keys:
        try:  # the common case: orjson for plain JSON data, byte for byte what json writes
            data = orjson.dumps(value, default=_refuse, option=_ORJSON_PLAIN)
            if not ensure_ascii or data.isascii():
                return data.decode()
        except TypeError:  # other types, non-str keys, lone surrogates, huge ints, depth
            pass
        if _C_ENCODERS is not None:
            try:  # json's C encoder, without json.dumps' per-call set-up
                return "".join(_C_ENCODERS[ensure_ascii](value, 0))
            except (ValueError, TypeError, RecursionError):
                pass
        return json.dumps(to_json_value(value, strict=strict), separators=(",", ":"),
                          ensure_ascii=ensure_ascii, allow_nan=False)
    separators = (",", ":") if indent is None and compact else None
    try:
        return json.dumps(value, sort_keys=sort_keys, indent=indent, separators=separators,
                          ensure_ascii=ensure_ascii, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        pass
    return json.dumps(to_json_value(value, strict=strict), sort_keys=sort_keys, indent=indent,
                      separators=separators, ensure_ascii=ensure_ascii, allow_nan=False)
