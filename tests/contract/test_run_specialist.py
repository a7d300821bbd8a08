"""Reference §run_specialist (lines 20-29)."""

from __future__ import annotations

import pytest

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import drain, run, runtime


@cites(21, "run_specialist(self, /, specialist, prompt, thread_id=None)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.run_specialist, 21)


@cites(27, "Dispatch a specialist agent directly, bypassing the coordinator.")
def test_runs_the_specialist_without_the_coordinator() -> None:
    rt = runtime({"analyst": [{"tool": "stock_level", "args": {"sku": "A"}}, {"text": "3 left"}]})
    events = run(drain(rt.run_specialist("analyst", "how many A?")))
    assert "router" not in {e["agent"] for e in events}
    assert events[0]["entryAgent"] == "analyst"
    assert [e["result"] for e in events if e["type"] == "tool-result"] == [
        {"sku": "A", "units": 3}]
    assert events[-1]["type"] == "run-finish" and events[-1]["text"] == "3 left"


@cites(28, "thread_id: Optional conversation thread identifier.")
def test_thread_id_is_optional() -> None:
    rt = runtime({"analyst": [{"text": "a"}, {"text": "b"}]})
    fresh = run(drain(rt.run_specialist("analyst", "x")))
    given = run(drain(rt.run_specialist("analyst", "x", thread_id="mine")))
    assert fresh[0]["threadId"] and given[0]["threadId"] == "mine"


@cites(28, "specialist: Name of the registered specialist agent.")
def test_an_unregistered_specialist_is_a_value_error_listing_the_known_ones() -> None:
    rt = runtime()
    with pytest.raises(ValueError, match=r"'ghost'.*\['analyst'\]"):
        rt.run_specialist("ghost", "x")
