"""Reference §resolve_reference (lines 87-96)."""

from __future__ import annotations

import pytest

import flowai_nb as fa
from flowai_nb.engine.errors import ReferenceNotFoundError

from ._reference import assert_function_matches, cites
from .conftest import run


def make_runtime() -> fa.Runtime:
    spec = fa.define_runtime(fa.define_tenant("acme", "1"),
                             references=[fa.define_reference("note", {"text": str})])
    return fa.create_runtime(spec)


@cites(88, "resolve_reference(self, /, reference)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.resolve_reference, 88)


@cites(96, "Returns: Awaitable resolving to the stored payload.")
def test_resolves_an_envelope_to_its_payload_awaitably() -> None:
    rt = make_runtime()
    envelope = run(rt.create_reference("note", {"text": "hi"}))
    pending = rt.resolve_reference(envelope)
    assert hasattr(pending, "__await__")
    assert run(pending) == {"text": "hi"}
    assert run(rt.resolve_reference(reference=envelope)) == {"text": "hi"}


@cites(95, "create_reference(...) or emitted by the runtime.")
def test_an_unknown_reference_is_a_key_error_naming_it() -> None:
    rt = make_runtime()
    with pytest.raises(ReferenceNotFoundError, match="note:nope"):
        run(rt.resolve_reference({"kind": "note", "id": "nope"}))
