"""Reference §respond_to_approval (lines 107-124)."""

from __future__ import annotations

import pytest

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import BODY, run, runtime

SCRIPTS = {"planner": [{"tool": "store_plan", "args": {"plan_id": "p1", "body": BODY}},
                       {"text": "stored"}],
           "executor": [{"tool": "execute_plan", "args": {"plan_id": "p1"}},
                        {"text": "executed"}]}


async def gate(rt: fa.Runtime) -> dict:
    """Store a plan, start its execution and return the approval-required event."""
    async for _ in rt.run_agent("planner", "plan", thread_id="tp"):
        pass
    async for event in rt.run_agent("executor", "run", thread_id="te"):
        if event["type"] == "approval-required":
            return event
    raise AssertionError("no approval gate")


@cites(108, "respond_to_approval(self, /, approval_id, outcome, feedback=None, partial=None)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.respond_to_approval, 108)


@cites(118, 'outcome: "approve", "reject", or "revise".')
@pytest.mark.parametrize("outcome", ["approve", "reject", "revise"])
def test_each_supported_outcome_resolves_the_gate(outcome: str) -> None:
    rt = runtime(SCRIPTS, action_dispatcher=lambda actions, ctx: None)

    async def scenario() -> None:
        event = await gate(rt)
        await rt.respond_to_approval(event["approvalId"], outcome, feedback="because")
        assert rt.pending_approvals() == []

    run(scenario())


@cites(122, "ValueError: If outcome is not a supported value.")
def test_an_unsupported_outcome_is_a_value_error() -> None:
    rt = runtime(SCRIPTS, action_dispatcher=lambda actions, ctx: None)

    async def scenario() -> None:
        event = await gate(rt)
        with pytest.raises(ValueError, match="maybe"):
            await rt.respond_to_approval(event["approvalId"], "maybe")

    run(scenario())


@cites(123, "RuntimeError: If the approval id is unknown or the gate cannot")
def test_an_unknown_or_resolved_id_is_a_runtime_error() -> None:
    rt = runtime(SCRIPTS, action_dispatcher=lambda actions, ctx: None)

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="ap-nope"):
            await rt.respond_to_approval("ap-nope", "approve")
        event = await gate(rt)
        await rt.respond_to_approval(event["approvalId"], "approve")
        with pytest.raises(RuntimeError):
            await rt.respond_to_approval(event["approvalId"], "approve")

    run(scenario())
