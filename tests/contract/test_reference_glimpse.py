"""Reference §reference_glimpse (lines 97-106)."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import run


@cites(98, "reference_glimpse(self, /, reference)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.reference_glimpse, 98)


@cites(102, "Return the cached glimpse for a reference without resolving it.")
def test_returns_the_cached_glimpse_without_the_payload() -> None:
    spec = fa.define_runtime(fa.define_tenant("acme", "1"), references=[
        fa.define_reference("rows", {"rows": list}, glimpse=lambda v: {"n": len(v["rows"])})])
    rt = fa.create_runtime(spec)
    envelope = run(rt.create_reference("rows", {"rows": list(range(50))}))
    store = rt._run_services.kv
    store.delete(f"refdata/rows/{envelope['id']}")  # the payload is gone, the glimpse is not
    pending = rt.reference_glimpse(envelope)
    assert hasattr(pending, "__await__")
    assert run(pending) == {"n": 50}
