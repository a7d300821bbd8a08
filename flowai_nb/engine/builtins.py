"""The built-in tools: ``call_agent``, ``store_plan`` and ``execute_plan`` (SPEC §4, §7).

Each is ``async tool(run, frame, agent, use, args) -> tool_result message`` and is
registered in the :class:`~flowai_nb.engine.tools.ToolRegistry` like any other
tool (so the tools approval gate applies to them too); unlike a user handler it
drives the run: it starts sub-agents, stores plans and dispatches actions.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..authoring.agents import AgentSpec
from ..authoring.approvals import ApprovalPolicy
from . import events as ev
from ._signals import AgentLimit, RunFailed, Superseded
from ._util import canonical, jsonable, maybe_await
from .approvals import APPROVED, gate, gate_id, requires_approval
from .frames import Frame
from .partial import select_actions
from .plans import idempotency_key
from .references import parse_envelope
from .tool_exec import error_text

if TYPE_CHECKING:
    from .run import Run

__all__ = ["BUILTIN_TOOLS", "call_agent", "store_plan", "execute_plan"]


async def call_agent(run: Run, frame: Frame, agent: AgentSpec, use: dict[str, Any],
                     args: dict[str, Any]) -> dict[str, Any]:
    """``call_agent(agent, prompt)``: run a routed agent on its own sub-thread."""
    target = args["agent"]
    if target not in agent.routes:
        return run.tool_result(frame, use, error=(
            f"agent {agent.name!r} cannot call {target!r}; its routes are "
            f"{list(agent.routes)}"))
    child = frame.child
    if child is None or child.parent_call != use["id"]:
        child = Frame(agent=target, depth=frame.depth + 1, thread=f"{frame.thread}/{target}",
                      prompt=args["prompt"], parent_call=use["id"])
        frame.child = child
    try:
        text = await run.run_agent(child)
    except AgentLimit as exc:
        frame.child = None
        return run.tool_result(frame, use, error=str(exc))
    frame.child = None
    return run.tool_result(frame, use, result=text)


async def store_plan(run: Run, frame: Frame, agent: AgentSpec, use: dict[str, Any],
                     args: dict[str, Any]) -> dict[str, Any]:
    """``store_plan(plan?, plan_id?, body)``: validate and store a draft plan."""
    spec_name = args.get("plan") or (agent.plan.name if agent.plan else None)
    plans = run.services.spec.plans_by_name
    if spec_name is None:
        return run.tool_result(frame, use, error=(
            f"agent {agent.name!r} has no plan type; pass plan= one of {sorted(plans)}"))
    if spec_name not in plans:
        return run.tool_result(frame, use, error=(
            f"unknown plan {spec_name!r}; declared plans: {sorted(plans)}"))
    try:
        body, actions = plans[spec_name].validate_body(args.get("body"))
        record = run.services.plans.store(spec_name=spec_name, body=body, actions=actions,
                                          base_id=args.get("plan_id"), author=agent.name,
                                          run_id=run.id, thread_id=run.thread_id)
    except ValueError as exc:
        return run.tool_result(frame, use, error=str(exc))
    run.emit(ev.PlanStored, frame, record["id"], spec_name, "draft", actions)
    return run.tool_result(frame, use, result={
        "planId": record["id"], "status": "draft", "version": record["version"],
        "actions": len(actions)})


def _plan_status(run: Run, frame: Frame, plan_id: str, status: str, note: Any = None, *,
                 thread: str) -> None:
    plans = run.services.plans
    run.transition(plans.status_ops(plan_id, status, note, thread_id=thread), plans.kv,
                   ev.PlanStatus, frame, plan_id, status)


async def execute_plan(run: Run, frame: Frame, agent: AgentSpec, use: dict[str, Any],
                       args: dict[str, Any]) -> dict[str, Any]:
    """``execute_plan(plan_id)``: the plans gate, then the action dispatcher."""
    services = run.services
    try:  # the run's own thread's plan, else the one thread that has the id
        record = services.plans.resolve(args["plan_id"], thread_id=run.thread_id)
    except LookupError as exc:  # PlanNotFoundError, AmbiguousPlanError
        return run.tool_result(frame, use, error=str(exc))
    plan_id, thread = record["id"], record["threadId"]
    approval_id = gate_id(run.id, use["id"], "plan")
    resuming_revision = frame.child is not None and frame.child.parent_call == use["id"]
    known = run.may_have_gate(approval_id)  # else no record or decision can exist yet
    stored = run.stored_decision(approval_id) if known else None
    decided = approval_id in run.decided or stored is not None
    if not resuming_revision and not decided \
            and record["status"] not in ("draft", "pending_approval"):
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} is {record['status']}; only a draft plan can be executed"))
    policy = services.spec.plan_policy(agent)
    needs = decided or (known and services.broker.get(approval_id) is not None) \
        or await requires_approval(services, policy, record, kind="plan", target=plan_id,
                                   agent=agent)
    decision = APPROVED
    if needs:
        if record["status"] == "draft" and not resuming_revision and not decided:
            plans = services.plans
            ops = plans.status_ops(plan_id, "pending_approval", None, record=record)
            record = ops[-1][2]
            if plans.kv is services.kv:  # written with the paused run the gate persists
                run.stage(ops, ev.PlanStatus, frame, plan_id, "pending_approval")
            else:
                run.transition(ops, plans.kv, ev.PlanStatus, frame, plan_id, "pending_approval")
        decision = await gate(
            run, frame, agent, use, kind="plan", target=plan_id,
            payload={"planId": plan_id, "plan": record["plan"], "actions": record["actions"],
                     "body": record["body"]},
            policy=ApprovalPolicy(kind="always"), predicate_args=record, decided=stored)
    outcome = decision["outcome"]
    feedback = decision.get("feedback")
    if outcome == "reject":
        if services.plans.get(plan_id, thread_id=thread)["status"] != "rejected":
            _plan_status(run, frame, plan_id, "rejected", {"feedback": feedback}, thread=thread)
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} was rejected by the reviewer"
            f"{': ' + str(feedback) if feedback else ''}. Do not execute or retry it."))
    if outcome == "revise":
        return await _revise(run, frame, use, plan_id, thread, decision)
    return await _dispatch(run, frame, use, plan_id, thread, decision,
                           None if needs and decision is not stored else record)


async def _revise(run: Run, frame: Frame, use: dict[str, Any], plan_id: str, thread: str,
                  decision: dict[str, Any]) -> dict[str, Any]:
    services = run.services
    record = services.plans.get(plan_id, thread_id=thread)
    feedback, partial = decision.get("feedback"), decision.get("partial")
    if record["status"] != "draft":
        _plan_status(run, frame, plan_id, "draft", {"feedback": feedback, "partial": partial},
                     thread=thread)
    author = record.get("author")
    planner = next((a for a in services.spec.agents
                    if a.name == author and a.role == "planner"), None)
    revised = None
    if planner is not None:
        child = frame.child
        if child is None or child.parent_call != use["id"]:
            prompt = (
                f"The reviewer asked for a revision of plan {plan_id} ({record['plan']}).\n"
                f"Feedback: {feedback or '(none)'}\n"
                f"Partial decision: {canonical(partial) if partial is not None else '(none)'}"
                f"\nCurrent plan body: {canonical(record['body'])}\n"
                f"Store the revised plan with store_plan(plan_id={record['baseId']!r}, ...)."
            )
            child = Frame(agent=planner.name, depth=frame.depth + 1,
                          thread=f"{frame.thread}/{planner.name}", prompt=prompt,
                          parent_call=use["id"])
            frame.child = child
        try:
            await run.run_agent(child)
        except AgentLimit:
            pass
        frame.child = None
        latest = services.plans.resolve(record["baseId"], thread_id=run.thread_id)
        if latest["threadId"] != thread or latest["version"] > record["version"]:
            revised = latest["id"]
    return run.tool_result(frame, use, result={
        "planId": plan_id, "status": "revision_requested", "feedback": feedback,
        "partial": partial, "revisedPlanId": revised,
        "next": (f"call execute_plan(plan_id={revised!r}) to submit the revision"
                 if revised else "ask the planner for a revised plan")})


async def _dispatch(run: Run, frame: Frame, use: dict[str, Any], plan_id: str, thread: str,
                    decision: dict[str, Any], record: dict[str, Any] | None) -> dict[str, Any]:
    """Claim, approve and execute an approved plan of ``thread`` (``record``: as just read,
    if it was)."""
    services = run.services
    plans = services.plans
    if record is None:
        record = plans.get(plan_id, thread_id=thread)
    # Only a run that claimed the plan and stopped can find it past ``approved``: who
    # claimed it is read then (and when the claim below loses), not on every execution.
    owner = (plans.execution_owner(plan_id, thread_id=thread) if record["status"] in _CLAIMED
             else None)
    if owner is not None and owner != run.id:
        return _executed_elsewhere(run, frame, use, plan_id)
    if owner == run.id:  # a resumed run whose process stopped after claiming the plan
        if record["status"] in ("executed", "failed", "needs_reconciliation"):
            return _already_settled(run, frame, use, record)
        if record["status"] == "executing":  # a crash fell between dispatch and its result
            note = {"error": "the process running this plan stopped while the action "
                             "dispatcher was running; whether the actions were applied is "
                             "unknown"}
            _plan_status(run, frame, plan_id, "needs_reconciliation", note, thread=thread)
            return run.tool_result(frame, use, error=(
                f"plan {plan_id} needs reconciliation: {note['error']}. Do not execute it "
                f"again."))
    problem: str | None = None
    steps: list[tuple[str, Any]] = []
    try:
        selection = select_actions(record, decision.get("partial"),
                                   services.spec.plans_by_name.get(record["plan"]))
    except ValueError as exc:  # a decision recorded without these checks (an older process)
        problem, indexed = str(exc), []
    else:
        indexed = selection.actions
        if record["status"] != "approved":
            steps.append(("approved", selection.note()))
    resolved: dict[str, dict[str, Any]] = {}
    if problem is not None:
        pass
    elif services.dispatcher is None:
        problem = "no action_dispatcher"
    else:
        try:
            for _, action in indexed:
                for ref in action.get("references") or []:
                    kind, ref_id = parse_envelope(ref)
                    resolved.setdefault(kind, {})[ref_id] = services.refs.resolve(ref)
        except (LookupError, ValueError) as exc:
            problem = str(exc)
    # Claiming the plan, approving it and (when it can run) handing its actions over,
    # with their idempotency keys and events: one transaction. The events are delivered
    # once the dispatcher has been called, so whoever sees ``executing`` (or stops the
    # process right after it) knows the actions were handed over.
    keys = [idempotency_key(thread, plan_id, i) for i, _ in indexed]
    steps.append(("failed", {"error": problem}) if problem is not None
                 else ("executing", {"dispatch": keys}))
    ops = plans.status_ops(plan_id, *steps[0], record=record, then=tuple(steps[1:]), fields=(
        None if problem is not None else
        {"dispatchedActions": [{"index": i, **action} for i, action in indexed]}))
    record = ops[-1][2]
    reports: list[tuple[Any, ...]] = [(ev.PlanStatus, plan_id, status) for status, _ in steps]
    if problem is None:
        reports += [(ev.ActionStatus, plan_id, i, action["kind"], "executing")
                    for i, action in indexed]
    events = None
    if owner is None:
        claim = plans.claim_op(plan_id, run.id, thread_id=thread)
        events = run.guarded_transition([claim, *ops], plans.kv, frame, *reports,
                                        deliver=problem is not None)
    if events is None and (owner == run.id
                           or plans.execution_owner(plan_id, thread_id=thread) == run.id):
        # this run's own earlier claim (its process stopped right after it)
        events = run.guarded_transition(ops, plans.kv, frame, *reports,
                                        deliver=problem is not None)
    if events is None:  # another run claimed the plan first
        return _executed_elsewhere(run, frame, use, plan_id)
    if problem == "no action_dispatcher":
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} is approved but no action_dispatcher is configured; pass "
            f"create_runtime(action_dispatcher=...)"))
    if problem is not None:
        return run.tool_result(frame, use, error=f"plan {plan_id} failed: {problem}")
    actions = [action for _, action in indexed]
    ctx = services.context(run, frame.agent, use["id"],
                           extra={"resolved_refs": resolved, "plan": record,
                                  "idempotency_keys": keys})
    recorded = events
    try:
        pending = services.dispatcher(actions, ctx)
        for event in recorded:
            run.deliver(event, frame)
        recorded = []
        outcome = await maybe_await(pending)
        problem = _dispatch_shape_problem(outcome)
        if problem is None:
            outcome = jsonable(outcome)
    except Superseded:
        raise
    except asyncio.CancelledError:  # the run ends (cancel(), or its loop went away) while
        for event in recorded:      # the dispatcher ran: what it applied is unknown
            run.deliver(event, frame)
        _plan_status(run, frame, plan_id, "needs_reconciliation", {
            "error": "the run was cancelled while the action dispatcher was running; whether "
                     "the actions were applied is unknown"}, thread=thread)
        raise
    except BaseException as exc:  # noqa: BLE001 - a dispatcher bug fails the plan readably
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        problem = f"the action dispatcher raised {error_text(exc)}"
    for event in recorded:
        run.deliver(event, frame)
    final = "failed" if problem is not None else "executed"
    note = {"error": problem} if problem is not None else outcome
    ops = plans.status_ops(plan_id, final, note, record=record)
    recorded = [run.record(ev.ActionStatus, frame, plan_id, i, action["kind"], final)
                for i, action in indexed]
    recorded.append(run.record(ev.PlanStatus, frame, plan_id, final))
    run.commit(ops, plans.kv)
    for event in recorded:
        run.deliver(event, frame)
    if problem is not None:
        raise RunFailed(f"plan {plan_id} failed: {problem}", "dispatcher", frame)
    result = {"planId": plan_id, "status": "executed"}
    if outcome:
        result.update(jsonable(outcome))
    return run.tool_result(frame, use, result=result)


_CLAIMED = ("approved", "executing", "executed", "failed", "needs_reconciliation")
"""Plan statuses only a claimed execution writes (or an older claim-then-approve)."""


def _executed_elsewhere(run: Run, frame: Frame, use: dict[str, Any],
                        plan_id: str) -> dict[str, Any]:
    return run.tool_result(frame, use, error=(
        f"plan {plan_id} was already executed by another run; store a new version to run it "
        f"again"))


def _already_settled(run: Run, frame: Frame, use: dict[str, Any],
                     record: dict[str, Any]) -> dict[str, Any]:
    """A resumed run whose plan reached its end before the process stopped."""
    plan_id, status = record["id"], record["status"]
    if status == "executed":
        note = record["history"][-1].get("note")
        result = {"planId": plan_id, "status": "executed"}
        if isinstance(note, dict):
            result.update(note)
        return run.tool_result(frame, use, result=result)
    return run.tool_result(frame, use, error=f"plan {plan_id} is {status}")


def _dispatch_shape_problem(outcome: Any) -> str | None:
    """``None`` when ``outcome`` is a valid dispatcher result, else what is wrong."""
    if outcome is None:
        return None
    expected = ("expected None or {'entitiesAffected': int, 'summary': str (optional), "
                "'details': any (optional)}")
    if not isinstance(outcome, dict):
        return f"the action dispatcher returned {type(outcome).__name__} {outcome!r}; {expected}"
    unknown = set(outcome) - {"entitiesAffected", "summary", "details"}
    count = outcome.get("entitiesAffected")
    if unknown:
        return f"the action dispatcher returned unknown key(s) {sorted(unknown)}; {expected}"
    if not isinstance(count, int) or isinstance(count, bool):
        return f"the action dispatcher returned entitiesAffected={count!r}; {expected}"
    if outcome.get("summary") is not None and not isinstance(outcome["summary"], str):
        return f"the action dispatcher returned summary={outcome['summary']!r}; {expected}"
    return None


BUILTIN_TOOLS = {"call_agent": call_agent, "store_plan": store_plan,
                 "execute_plan": execute_plan}
"""Built-in tool name -> implementation (registered in every runtime's tool registry)."""
