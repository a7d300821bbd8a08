"""Approval records, decisions and the headless approval policies."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._json import JSONValueError, to_json_value
from ..authoring.agents import AgentSpec
from ..authoring.approvals import ApprovalPolicy
from ..authoring.plans import PlanSpec
from ..storage.base import KeyValueStore, Op
from . import events as ev
from ._signals import RunFailed
from ._util import jsonable, maybe_await, now_ms
from .partial import select_actions

if TYPE_CHECKING:
    from .frames import Frame
    from .run import Run
    from .services import RunServices

__all__ = ["ApprovalBroker", "Approver", "make_approver", "OUTCOMES", "APPROVAL_ENV",
           "APPROVED", "requires_approval", "gate", "gate_id"]

APPROVED = {"outcome": "approve", "feedback": None, "partial": None}
"""The decision of a gate whose policy needs no approval."""

OUTCOMES = ("approve", "reject", "revise")
APPROVAL_ENV = "FLOWAI_NB_APPROVAL"

Approver = Callable[[dict[str, Any]], Any]
"""``approver(request) -> decision | None`` (sync or async); ``None`` means ask a person."""


def _decision(value: Any, *, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"outcome": value}
    if not isinstance(value, Mapping) or value.get("outcome") not in OUTCOMES:
        raise ValueError(
            f"{where}: a decision is 'approve', 'reject', 'revise' or "
            f"{{'outcome': ..., 'feedback': ..., 'partial': ...}}; got {value!r}"
        )
    unknown = set(value) - {"outcome", "feedback", "partial"}
    if unknown:
        raise ValueError(f"{where}: unknown decision key(s) {sorted(unknown)}")
    return {"outcome": value["outcome"], "feedback": value.get("feedback"),
            "partial": value.get("partial")}


def make_approver(policy: Any) -> Approver | None:
    """Normalise a headless approval policy.

    ``"auto_approve"`` / ``"auto_reject"``, a list of decisions consumed in
    order (a run that needs more decisions than listed then waits for a
    person), a callable ``(request) -> decision`` (sync or async), or ``None``:
    then the environment variable ``FLOWAI_NB_APPROVAL`` (``auto_approve`` or
    ``auto_reject``) applies, and without it a person answers through
    ``runtime.respond_to_approval``.
    """
    if policy is None:
        env = os.environ.get(APPROVAL_ENV, "").strip()
        if not env:
            return None
        policy = {"auto": "auto_approve", "approve": "auto_approve",
                  "reject": "auto_reject"}.get(env, env)
        if policy not in ("auto_approve", "auto_reject"):
            raise ValueError(f"{APPROVAL_ENV}={env!r}; expected 'auto_approve' or 'auto_reject'")
    if policy == "auto_approve":
        return lambda request: {"outcome": "approve", "feedback": None, "partial": None}
    if policy == "auto_reject":
        return lambda request: {"outcome": "reject", "feedback": "rejected by the headless "
                                "approval policy", "partial": None}
    if isinstance(policy, str):
        raise ValueError(f"approvals={policy!r}; expected 'auto_approve', 'auto_reject', a list "
                         f"of decisions or a callable")
    if callable(policy):
        async def call(request: dict[str, Any]) -> Any:
            answer = await maybe_await(policy(request))
            return None if answer is None else _decision(answer, where="approval callable")
        return call
    if isinstance(policy, Sequence):
        queue = [_decision(d, where=f"approvals[{i}]") for i, d in enumerate(policy)]

        def scripted(request: dict[str, Any]) -> Any:
            return queue.pop(0) if queue else None
        return scripted
    raise TypeError(f"approvals must be a string, a list or a callable; got {policy!r}")


def _gate_prefix(run_id: str) -> str:
    return f"ap-{run_id}-"


def gate_id(run_id: str, call_id: str, kind: str) -> str:
    """The approval id of the ``kind`` gate (plan or tool) in front of one tool call of a run."""
    return f"{_gate_prefix(run_id)}{call_id}-{kind}"


class ApprovalBroker:
    """Pending approvals of one tenant: persisted records plus in-process waiters.

    Records live in the kv store at ``approvals/<id>``; the decision is written
    with an atomic ``add`` at ``approval-decisions/<id>``, so of two concurrent
    responses exactly one wins, even across processes. ``plans`` (the runtime's
    plan types by name) checks the edited payloads of a partial plan approval.
    """

    POLL_SECONDS = 0.5
    """How often a waiting run checks the store for a decision made elsewhere."""

    def __init__(self, kv: KeyValueStore, plans: Mapping[str, PlanSpec] | None = None) -> None:
        self._kv = kv
        self._plans = plans or {}
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def get(self, approval_id: str) -> dict[str, Any] | None:
        """The record of an approval, or ``None``."""
        return self._kv.get(f"approvals/{approval_id}")

    @staticmethod
    def open_ops(record: dict[str, Any]) -> list[Op]:
        """The store writes that persist a new pending approval (record and pending index)."""
        record = {**record, "status": "pending", "decision": None, "createdAt": now_ms()}
        approval_id = record["approvalId"]
        return [("put", f"approvals/{approval_id}", record),
                ("put", f"approvals-pending/{approval_id}", record)]

    def open(self, record: dict[str, Any]) -> None:
        """Persist a new pending approval."""
        self._kv.write(self.open_ops(record))

    def pending(self) -> list[dict[str, Any]]:
        """Every pending approval of the tenant, oldest first (reads only pending ones)."""
        records = [r for _, r in self._kv.items("approvals-pending/")]
        return sorted(records, key=lambda r: (r["createdAt"], r["approvalId"]))

    def resolve(self, approval_id: str, outcome: str, feedback: Any = None,
                partial: Any = None) -> dict[str, Any]:
        """Record a decision and wake the waiting run.

        Raises:
            ValueError: ``outcome`` is not approve / reject / revise.
            RuntimeError: unknown id, or already resolved.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}; got {outcome!r}")
        record = self.get(approval_id)
        if record is None:
            raise RuntimeError(f"unknown approval id {approval_id!r}; "
                               f"see runtime.pending_approvals()")
        partial = _checked_partial(record, outcome, partial, self._plans)
        for name, value in (("feedback", feedback), ("partial", partial)):
            try:  # checked here, so the error names the argument, not a store write
                to_json_value(value, strict=True)
            except (JSONValueError, RecursionError) as exc:
                raise ValueError(f"{name} must be JSON data (text, numbers, true/false, null, "
                                 f"lists and string-keyed dicts); {exc}") from None
        decision = {"outcome": outcome, "feedback": feedback, "partial": partial,
                    "decidedAt": now_ms()}
        status = {"approve": "approved", "reject": "rejected", "revise": "revised"}[outcome]
        resolved = {**record, "status": status, "decision": decision}
        if record["status"] != "pending" or not self._kv.write([
            ("add", f"approval-decisions/{approval_id}", decision),
            ("put", f"approvals/{approval_id}", resolved),
            ("delete", f"approvals-pending/{approval_id}", None),
        ]):
            current = self.get(approval_id) or record
            raise RuntimeError(f"approval {approval_id!r} is already resolved "
                               f"({current['status']})")
        waiter = self._waiters.get(approval_id)
        if waiter is not None and not waiter.done():
            loop = waiter.get_loop()
            try:
                loop.call_soon_threadsafe(_settle, waiter, decision)
            except RuntimeError:  # loop closed: the run is gone, the record stays
                pass
        return decision

    def cancel(self, approval_id: str) -> None:
        """Withdraw a pending approval (its run was cancelled)."""
        record = self.get(approval_id)
        if record is not None and record["status"] == "pending":
            self._kv.write([("put", f"approvals/{approval_id}", {**record, "status": "cancelled"}),
                            ("delete", f"approvals-pending/{approval_id}", None)])

    def decision(self, approval_id: str) -> dict[str, Any] | None:
        """The recorded decision, or ``None`` while pending."""
        return self._kv.get(f"approval-decisions/{approval_id}")

    @staticmethod
    def run_decisions_prefix(run_id: str) -> str:
        """The key prefix under which the decisions of a run's gates are stored (items
        under it are ``(key, decision)``; :func:`decisions_of` maps them by approval id)."""
        return f"approval-decisions/{_gate_prefix(run_id)}"

    @staticmethod
    def decisions_of(items: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
        """``{approval id: decision}`` of items read under :meth:`run_decisions_prefix`."""
        return {key.rpartition("/")[2]: decision for key, decision in items}

    async def wait(self, approval_id: str, timeout: float | None, *,
                   check_first: bool = True) -> dict[str, Any]:
        """Wait (without blocking the loop) for a decision; reject on ``timeout`` seconds.

        A decision given in this process wakes the run at once; one written by
        another process sharing the store (a second kernel, an MCP server) is
        noticed within :attr:`POLL_SECONDS`. ``check_first=False`` skips reading the
        store before the first wait (for a gate that was opened just now).
        """
        existing = self.decision(approval_id) if check_first else None
        if existing is not None:
            return existing
        loop = asyncio.get_running_loop()
        future = self._waiters.get(approval_id)
        if future is None or future.done() or future.get_loop() is not loop:
            future = loop.create_future()
            self._waiters[approval_id] = future
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                step = self.POLL_SECONDS if deadline is None else \
                    max(0.0, min(self.POLL_SECONDS, deadline - loop.time()))
                try:
                    return await asyncio.wait_for(asyncio.shield(future), step)
                except TimeoutError:
                    found = self.decision(approval_id)
                    if found is not None:
                        return found
                    if deadline is not None and loop.time() >= deadline:
                        break
            try:
                return self.resolve(approval_id, "reject", feedback="timed out")
            except RuntimeError:  # answered at the last moment
                return self.decision(approval_id) or await future
        finally:
            if self._waiters.get(approval_id) is future and future.done():
                self._waiters.pop(approval_id, None)


def _checked_partial(record: dict[str, Any], outcome: str, partial: Any,
                     plans: Mapping[str, PlanSpec]) -> Any:
    """``partial`` as recorded. For a partial approval of a plan (the actions to run, each
    as stored or with an edited payload the plan type accepts; see
    :mod:`flowai_nb.engine.partial`) that is its checked form: the chosen actions in plan
    order, each edit in the plan type's validated form (``"4"`` typed for an int is ``4``),
    so every surface shows what will run. Anything else is recorded as given."""
    if record.get("kind") != "plan" or outcome != "approve" or partial is None:
        return partial
    payload = record.get("payload") or {}
    selection = select_actions(payload, partial, plans.get(payload.get("plan") or ""))
    edited = {edit["index"] for edit in selection.edited}
    return {"actions": [{"index": i, "payload": action.get("payload")} if i in edited else i
                        for i, action in selection.actions]}


def _settle(future: asyncio.Future[dict[str, Any]], decision: dict[str, Any]) -> None:
    if not future.done():
        future.set_result(decision)


async def requires_approval(services: RunServices, policy: ApprovalPolicy, args: Any, *,
                            kind: str, target: str, agent: AgentSpec) -> bool:
    """Whether ``policy`` requires an approval for this call (a raising predicate: yes)."""
    if policy.kind == "never":
        return False
    if policy.kind == "always":
        return True
    predicate = services.predicates.get(policy.value or "")
    if predicate is None:
        return True
    info = {"kind": kind, "target": target, "tenant": services.tenant.to_wire(),
            "agent": agent.name}
    try:
        return bool(await maybe_await(predicate(jsonable(args), info)))
    except Exception:
        return True  # fail closed


async def gate(run: Run, frame: Frame, agent: AgentSpec, use: dict[str, Any], *, kind: str,
               target: str, payload: dict[str, Any], policy: ApprovalPolicy,
               predicate_args: Any, decided: dict[str, Any] | None = None) -> dict[str, Any]:
    """Open a gate if ``policy`` requires it, wait for the decision and return it.

    Opening persists the paused run (so it can be resumed anywhere) and emits
    ``approval-required``; the decision is emitted as ``approval-decision``.
    ``decided``: the gate's stored decision when the caller has just read it.
    """
    approval_id = gate_id(run.id, use["id"], kind)
    services = run.services
    broker = services.broker
    if approval_id in run.decided:
        return decided or run.stored_decision(approval_id) or APPROVED
    fresh = False
    decision = decided
    if decision is None and run.may_have_gate(approval_id):
        decision = run.stored_decision(approval_id)
    if decision is None:
        record = broker.get(approval_id) if run.may_have_gate(approval_id) else None
        if record is None:
            if not await requires_approval(services, policy, predicate_args, kind=kind,
                                           target=target, agent=agent):
                return APPROVED
            fresh = True
            run.resume_token = run.token
            request = {"approvalId": approval_id, "runId": run.id, "threadId": run.thread_id,
                       "agent": agent.name, "kind": kind, "target": target,
                       "payload": jsonable(payload), "resumeToken": run.resume_token}
            run.open_gate = approval_id
            event = run.record(ev.ApprovalRequired, frame, approval_id, kind, target,
                               request["payload"], run.resume_token)
            run.pause_seq = run.seq
            run.persist(open_approval=request)
            run.deliver(event, frame)
        else:  # resumed at an open gate: what was asked is in the record
            request = {k: v for k, v in record.items()
                       if k not in ("status", "decision", "createdAt")}
            run.open_gate = approval_id
        if run.approver is not None:
            decision = await _ask_approver(run, frame, approval_id, request)
    if decision is None:
        run.parked = run.open_gate = approval_id
        run.status = "paused"
        if run.stream is not None:  # a `for` step waiting for an event must not wait on
            run.stream._wake()      # a person (a run resumed before the decision)
        try:
            # a gate opened just now has no decision yet: one given meanwhile by another
            # thread or process is found by the wait's next poll
            decision = await broker.wait(approval_id, services.approval_timeout,
                                         check_first=not fresh)
        finally:
            run.parked = None
    run.open_gate = None
    run.status = "running"
    run.claim()
    run.decided.append(approval_id)
    run.emit(ev.ApprovalDecision, frame, approval_id, decision["outcome"],
             decision.get("feedback"), decision.get("partial"))
    return decision


async def _ask_approver(run: Run, frame: Frame, approval_id: str,
                        request: dict[str, Any]) -> dict[str, Any] | None:
    """The headless approval policy's decision, recorded; ``None``: ask a person."""
    broker = run.services.broker
    try:
        answer = await maybe_await(run.approver(request))
    except (ValueError, TypeError) as exc:
        raise RunFailed(f"the approval policy failed on {approval_id}: {exc}",
                        "approver", frame) from None
    except Exception as exc:
        raise RunFailed(f"the approval policy raised {type(exc).__name__}: {exc}",
                        "approver", frame) from None
    if answer is None:
        return None
    try:
        return broker.resolve(approval_id, answer["outcome"], answer.get("feedback"),
                              answer.get("partial"))
    except RuntimeError:  # someone answered first; their decision stands
        return broker.decision(approval_id)
    except ValueError as exc:  # e.g. an edited payload the plan type refuses
        raise RunFailed(f"the approval policy's decision on {approval_id} is invalid: "
                        f"{exc}", "approver", frame) from None
