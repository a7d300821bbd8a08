"""The built-in fast validator agrees with ``jsonschema`` on every schema it accepts.

Tool arguments are checked by a small validator when the schema uses only the
common keywords, and by ``jsonschema`` otherwise. A user must not be able to
tell which one ran: the same value is accepted or rejected either way.
"""

from __future__ import annotations

import math

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowai_nb.authoring._schema import (
    SchemaError,
    _is_simple,
    _simple_problems,
    compile_schema,
)

_NAMES = st.sampled_from(["n", "x", "name", "tags"])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5),
    st.sampled_from([0.0, 1.0, -2.0, 1.5, 3.25, 1e20, math.inf, -math.inf]),
    st.sampled_from(["", "a", "1"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=8,
)
_TYPES = st.sampled_from(["string", "integer", "number", "boolean", "object", "array", "null"])


def _leaf_schema() -> st.SearchStrategy[dict]:
    bound = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 2.0, -1.5]))
    return st.fixed_dictionaries({}, optional={
        "type": _TYPES,
        "enum": st.lists(_SCALARS, min_size=1, max_size=4),
        "minimum": bound,
        "maximum": bound,
        "description": st.just("d"),
    })


def _extend(inner: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    obj = st.fixed_dictionaries({"properties": st.dictionaries(_NAMES, inner, max_size=3)},
                                optional={
        "type": st.just("object"),
        "required": st.lists(_NAMES, max_size=2, unique=True),
        "additionalProperties": st.booleans(),
    })
    arr = st.fixed_dictionaries({"items": inner}, optional={"type": st.just("array")})
    any_of = st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=3)},
                                   optional={"type": _TYPES})
    return st.one_of(obj, arr, any_of)


_SCHEMAS = st.recursive(_leaf_schema(), _extend, max_leaves=6)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_SCHEMAS, value=_JSON)
def test_fast_path_agrees_with_jsonschema(schema: dict, value: object) -> None:
    assert _is_simple(schema), schema
    fast_ok = not list(_simple_problems(schema, value, ""))
    reference_ok = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert fast_ok == reference_ok, (schema, value)


@settings(max_examples=200, deadline=None)
@given(schema=_SCHEMAS, value=_JSON)
def test_validate_gives_the_same_answer_whichever_validator_runs(schema: dict,
                                                                 value: object) -> None:
    """``$comment`` sends a schema to jsonschema: the verdict must not change."""
    outcomes = []
    for form in (schema, {**schema, "$comment": "routes to jsonschema"}):
        try:
            compile_schema(form, name="t").validate(value, what="args")
            outcomes.append(True)
        except SchemaError:
            outcomes.append(False)
    assert outcomes[0] == outcomes[1], (schema, value)


@pytest.mark.parametrize("value, ok", [
    ({"n": 1}, True), ({"n": 1.0}, True), ({"n": 1.5}, False), ({"n": True}, False),
    ({"n": "1"}, False),
])
def test_integer_follows_json_schema(value: dict, ok: bool) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    for form in (schema, {**schema, "$comment": "x"}):
        compiled = compile_schema(form, name="t")
        if ok:
            assert compiled.validate(value, what="args")[0] == value
        else:
            with pytest.raises(SchemaError, match=r"args: n: .* is not of type 'integer'"):
                compiled.validate(value, what="args")


def test_enum_does_not_confuse_true_with_one() -> None:
    compiled = compile_schema({"enum": [1, "a"]}, name="t")
    compiled.validate(1.0, what="v")
    with pytest.raises(SchemaError, match="True is not one of"):
        compiled.validate(True, what="v")


def test_malformed_keywords_go_to_jsonschema() -> None:
    assert not _is_simple({"type": ["string", "null"]})
    assert not _is_simple({"type": {"bad": 1}})
    assert not _is_simple({"required": "n"})
    assert not _is_simple({"minimum": "3"})
    assert not _is_simple({"anyOf": []})
