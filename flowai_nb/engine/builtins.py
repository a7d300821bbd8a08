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
from .approvals import APPROVED, gate, requires_approval
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
    approval_id = f"ap-{run.id}-{use['id']}-plan"
    resuming_revision = frame.child is not None and frame.child.parent_call == use["id"]
    decided = approval_id in run.decided or services.broker.decision(approval_id) is not None
    if not resuming_revision and not decided \
            and record["status"] not in ("draft", "pending_approval"):
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} is {record['status']}; only a draft plan can be executed"))
    policy = services.spec.plan_policy(agent)
    needs = decided or services.broker.get(approval_id) is not None \
        or await requires_approval(services, policy, record, kind="plan", target=plan_id,
                                   agent=agent)
    decision = APPROVED
    if needs:
        if record["status"] == "draft" and not resuming_revision and not decided:
            plans = services.plans
            ops = plans.status_ops(plan_id, "pending_approval", None, thread_id=thread)
            if plans.kv is services.kv:  # written with the paused run the gate persists
                run.stage(ops, ev.PlanStatus, frame, plan_id, "pending_approval")
            else:
                run.transition(ops, plans.kv, ev.PlanStatus, frame, plan_id, "pending_approval")
        decision = await gate(
            run, frame, agent, use, kind="plan", target=plan_id,
            payload={"planId": plan_id, "plan": record["plan"], "actions": record["actions"],
                     "body": record["body"]},
            policy=ApprovalPolicy(kind="always"), predicate_args=record)
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
    return await _dispatch(run, frame, use, plan_id, thread, decision)


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
                    decision: dict[str, Any]) -> dict[str, Any]:
    services = run.services
    if not services.plans.claim_execution(plan_id, run.id, thread_id=thread):
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} was already executed by another run; store a new version to "
            f"run it again"))
    record = services.plans.get(plan_id, thread_id=thread)
    if record["status"] in ("executed", "failed", "needs_reconciliation"):
        return _already_settled(run, frame, use, record)
    if record["status"] == "executing":  # a crash fell between dispatch and its result
        note = {"error": "the process running this plan stopped while the action dispatcher "
                         "was running; whether the actions were applied is unknown"}
        _plan_status(run, frame, plan_id, "needs_reconciliation", note, thread=thread)
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} needs reconciliation: {note['error']}. Do not execute it again."))
    try:
        selection = select_actions(record, decision.get("partial"),
                                   services.spec.plans_by_name.get(record["plan"]))
    except ValueError as exc:  # a decision recorded without these checks (an older process)
        _plan_status(run, frame, plan_id, "failed", {"error": str(exc)}, thread=thread)
        return run.tool_result(frame, use, error=f"plan {plan_id} failed: {exc}")
    if record["status"] != "approved":
        _plan_status(run, frame, plan_id, "approved", selection.note(), thread=thread)
    dispatcher = services.dispatcher
    if dispatcher is None:
        _plan_status(run, frame, plan_id, "failed", {"error": "no action_dispatcher"},
                     thread=thread)
        return run.tool_result(frame, use, error=(
            f"plan {plan_id} is approved but no action_dispatcher is configured; pass "
            f"create_runtime(action_dispatcher=...)"))
    indexed = selection.actions
    resolved: dict[str, dict[str, Any]] = {}
    try:
        for _, action in indexed:
            for ref in action.get("references") or []:
                kind, ref_id = parse_envelope(ref)
                resolved.setdefault(kind, {})[ref_id] = services.refs.resolve(ref)
    except (LookupError, ValueError) as exc:
        _plan_status(run, frame, plan_id, "failed", {"error": str(exc)}, thread=thread)
        return run.tool_result(frame, use, error=f"plan {plan_id} failed: {exc}")
    # The plan status, the idempotency keys of its actions and their events: one transaction.
    # The events are delivered once the dispatcher has been called, so whoever sees
    # ``executing`` (or stops the process right after it) knows the actions were handed over.
    keys = [idempotency_key(thread, plan_id, i) for i, _ in indexed]
    ops = services.plans.status_ops(plan_id, "executing", {"dispatch": keys}, thread_id=thread,
                                    fields={"dispatchedActions": [{"index": i, **action}
                                                                  for i, action in indexed]})
    recorded = [run.record(ev.PlanStatus, frame, plan_id, "executing")]
    recorded += [run.record(ev.ActionStatus, frame, plan_id, i, action["kind"], "executing")
                 for i, action in indexed]
    run.commit(ops, services.plans.kv)
    actions = [action for _, action in indexed]
    ctx = services.context(run, frame.agent, use["id"],
                           extra={"resolved_refs": resolved, "plan": record,
                                  "idempotency_keys": keys})
    try:
        pending = dispatcher(actions, ctx)
        for event in recorded:
            run.deliver(event, frame)
        recorded = []
        outcome = await maybe_await(pending)
        problem = _dispatch_shape_problem(outcome)
        if problem is None:
            outcome = jsonable(outcome)
    except (asyncio.CancelledError, Superseded):
        raise
    except BaseException as exc:  # noqa: BLE001 - a dispatcher bug fails the plan readably
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        problem = f"the action dispatcher raised {error_text(exc)}"
    for event in recorded:
        run.deliver(event, frame)
    final = "failed" if problem is not None else "executed"
    note = {"error": problem} if problem is not None else outcome
    ops = services.plans.status_ops(plan_id, final, note, thread_id=thread)
    recorded = [run.record(ev.ActionStatus, frame, plan_id, i, action["kind"], final)
                for i, action in indexed]
    recorded.append(run.record(ev.PlanStatus, frame, plan_id, final))
    run.commit(ops, services.plans.kv)
    for event in recorded:
        run.deliver(event, frame)
    if problem is not None:
        raise RunFailed(f"plan {plan_id} failed: {problem}", "dispatcher", frame)
    result = {"planId": plan_id, "status": "executed"}
    if outcome:
        result.update(jsonable(outcome))
    return run.tool_result(frame, use, result=result)


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
