"""Reference §create_reference (lines 72-86)."""

from __future__ import annotations

import pytest

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import run


def make_runtime(calls: list | None = None) -> fa.Runtime:
    def summary(value):
        if calls is not None:
            calls.append(value)
        return {"rows": len(value["rows"])}

    spec = fa.define_runtime(fa.define_tenant("acme", "1"), references=[
        fa.define_reference("slice", {"rows": list}, glimpse=summary),
        fa.define_reference("note", {"text": str}),
    ])
    return fa.create_runtime(spec)


@cites(73, "create_reference(self, /, reference, value, glimpse=None)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.create_reference, 73)


@cites(81, "reference: ReferenceSpec or reference kind name. A spec's")
def test_reference_is_a_spec_or_a_kind_name() -> None:
    rt = make_runtime()
    by_name = run(rt.create_reference("note", {"text": "hi"}))
    by_spec = run(rt.create_reference(rt.spec.reference("note"), {"text": "hi"}))
    assert by_name["kind"] == by_spec["kind"] == "note" and by_name["id"] == by_spec["id"]


@cites(82, "Python glimpse callback runs once before storing.")
def test_the_glimpse_callback_runs_once_before_storing() -> None:
    calls: list = []
    rt = make_runtime(calls)
    envelope = run(rt.create_reference("slice", {"rows": [1, 2, 3]}))
    assert envelope["glimpse"] == {"rows": 3} and len(calls) == 1
    run(rt.resolve_reference(envelope))
    run(rt.reference_glimpse(envelope))
    assert len(calls) == 1


@cites(84, "glimpse: Explicit glimpse value; defaults to {} when neither a")
def test_glimpse_defaults_to_an_empty_mapping() -> None:
    rt = make_runtime()
    assert run(rt.create_reference("note", {"text": "hi"}))["glimpse"] == {}
    explicit = run(rt.create_reference("note", {"text": "yo"}, glimpse={"words": 1}))
    assert explicit["glimpse"] == {"words": 1}


@cites(86, "Returns: Awaitable resolving to the reference envelope dict.")
def test_returns_an_awaitable_envelope() -> None:
    rt = make_runtime()
    pending = rt.create_reference("note", {"text": "hi"})
    assert hasattr(pending, "__await__")
    envelope = run(pending)
    assert set(envelope) == {"kind", "id", "glimpse", "createdAt", "expiresAt"}


@cites(83, "value: JSON-serializable payload to store.")
def test_a_value_that_does_not_fit_the_schema_is_refused() -> None:
    rt = make_runtime()
    with pytest.raises(ValueError, match="text"):
        run(rt.create_reference("note", {"text": 5}))
