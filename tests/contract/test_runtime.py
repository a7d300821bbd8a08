"""Reference §Runtime (lines 4-9): the handle create_runtime returns."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import cites
from .conftest import runtime


@cites(8, "Exported as")
def test_runtime_is_exported_and_is_what_create_runtime_returns() -> None:
    rt = runtime()
    assert isinstance(rt, fa.Runtime)
    assert "Runtime" in fa.__all__


@cites(6, "orchestration, provider routing, approval gates, plan")
def test_runtime_exposes_every_method_of_the_reference() -> None:
    rt = runtime()
    for name in ("query", "run_specialist", "run_eval", "stream_eval", "get_trace",
                 "list_traces", "create_reference", "resolve_reference", "reference_glimpse",
                 "respond_to_approval"):
        assert callable(getattr(rt, name)), name
