"""The recorded event fixtures (tests/fixtures/events) match the engine and fold cleanly."""

from __future__ import annotations

import json

import pytest

from flowai_nb.engine.events import parse_event
from flowai_nb.engine.state import RunState

from ..event_fixtures import FIXTURES, SCENARIOS, record


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_committed_fixture_is_what_the_engine_emits_today(name: str) -> None:
    committed = json.loads((FIXTURES / f"{name}.json").read_text())
    assert committed == record(name), (
        f"tests/fixtures/events/{name}.json is stale; regenerate: python -m tests.event_fixtures")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_recorded_event_round_trips_through_its_model(name: str) -> None:
    for event in json.loads((FIXTURES / f"{name}.json").read_text()):
        assert parse_event(event).to_wire() == event


def test_fold_of_recorded_plan_run_shows_what_a_reviewer_saw() -> None:
    events = json.loads((FIXTURES / "plan_approved.json").read_text())
    state = RunState.from_events(events)
    assert state.status == "completed" and not state.gaps and not state.pending
    assert [a.agent for a in state.roots] == ["router"]
    assert [c.agent for c in state.children(state.roots[0])] == ["planner", "executor"]
    plan = state.plans["r1@v1"]
    assert plan.status == "executed"
    assert [plan.action_status(i) for i in range(2)] == ["executed", "executed"]
    assert all(call.done and call.duration_ms is not None for call in state.tools.values())
    (approval,) = state.approvals.values()
    assert approval.outcome == "approve" and approval.label == "restock"
    # paused between approval-required and approval-decision
    cut = next(i for i, e in enumerate(events) if e["type"] == "approval-required")
    paused = RunState.from_events(events[: cut + 1])
    assert paused.status == "paused" and paused.display_status == "waiting for approval"
    assert [a.approval_id for a in paused.pending] == [approval.approval_id]


def test_fold_reports_missing_seqs_and_failed_spans() -> None:
    events = json.loads((FIXTURES / "failed.json").read_text())
    state = RunState.from_events(events[:2] + events[3:])
    assert state.gaps == [2]
    assert state.status == "failed" and state.errors[0]["where"] == "interpreter:scripted"
    assert {s["name"]: s["status"] for s in state.spans() if s["kind"] == "agent"} == {
        "router": "error", "planner": "error"}


def test_parse_event_rejects_unknown_types_and_missing_keys_by_name() -> None:
    with pytest.raises(ValueError, match="unknown event type 'bogus'"):
        parse_event({"type": "bogus"})
    with pytest.raises(ValueError, match="malformed 'tool-call' event"):
        parse_event({"type": "tool-call", "runId": "r", "threadId": "t", "seq": 0, "ts": 0,
                     "agent": "a"})


def test_usage_is_a_running_total_including_cost() -> None:
    base = {"runId": "r", "threadId": "t", "ts": 0, "agent": "a", "type": "usage"}
    state = RunState()
    state.apply({**base, "seq": 0, "inputTokens": 10, "outputTokens": 2, "costUsd": 0.1})
    state.apply({**base, "seq": 1, "inputTokens": 5, "outputTokens": 1, "costUsd": 0.2})
    assert state.usage == {"inputTokens": 15, "outputTokens": 3, "costUsd": 0.3}
    assert "$0.300000" in state.summary()
