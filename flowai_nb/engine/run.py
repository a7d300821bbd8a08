"""One run: the agent loop, tool calls and events.

Everything a run does is announced as an event through :meth:`Run.emit`, which
builds it from its model in :mod:`~flowai_nb.engine.events`, numbers it, records
it in the trace, hands it to the stream and calls the event hooks. That single
path feeds every surface (SPEC §5). Built-in tools live in
:mod:`~flowai_nb.engine.builtins`, approval gates in
:mod:`~flowai_nb.engine.approvals`; everything the run needs from its runtime
comes in one :class:`~flowai_nb.engine.services.RunServices`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, Any

from ..authoring.agents import AgentSpec
from ..authoring.references import Glimpse
from ..interpreters.base import (
    InterpreterError,
    ReasoningDelta,
    TextDelta,
    ToolUse,
    TurnRequest,
    Usage,
)
from ..storage.base import KeyValueStore, Op
from . import events as ev
from ._signals import AgentLimit, RunFailed, Superseded
from ._util import canonical, now_ms
from .approvals import gate
from .errors import RunLeasedError
from .frames import Frame
from .journal import FLUSH_SECONDS, JOURNAL_NOTICE, Journal
from .options import RunOptions
from .tool_exec import ToolError, checked_args, error_text, tool_result_value
from .tools import call_handler
from .traces import TraceRecorder, trace_id_of

if TYPE_CHECKING:
    from .services import RunServices
    from .stream import RunStream

__all__ = ["Run", "RESUME_PREFIX"]

RESUME_PREFIX = "resume-"
_LOOP_GONE = "the event loop running the run stopped (asyncio.run ended or the kernel shut down)"
"""Why a run still working when its loop went away ended ``cancelled``."""


def _add_usage(total: dict[str, Any], usage: Usage) -> None:
    total["inputTokens"] = total.get("inputTokens", 0) + usage.input_tokens
    total["outputTokens"] = total.get("outputTokens", 0) + usage.output_tokens
    if usage.cache_read_tokens:
        total["cacheReadTokens"] = total.get("cacheReadTokens", 0) + usage.cache_read_tokens
    if usage.cache_write_tokens:
        total["cacheWriteTokens"] = total.get("cacheWriteTokens", 0) + usage.cache_write_tokens
    if usage.cost_usd is not None:
        total["costUsd"] = round(total.get("costUsd", 0.0) + usage.cost_usd, 10)


class Run:
    """The state and loop of one run (fresh or resumed)."""

    def __init__(self, services: RunServices, *, run_id: str, thread_id: str, entry: str,
                 prompt: str, approver: Any, options: RunOptions,
                 interpreter_options: dict[str, Any] | None = None,
                 direct_call: dict[str, Any] | None = None) -> None:
        self.services = services
        self.id = run_id
        self.thread_id = thread_id
        self.entry = entry
        self.prompt = prompt
        self.approver = approver
        self.options = options
        self.interpreter_options = dict(interpreter_options or {})
        self.interpreter_state: dict[str, Any] = {}
        """What the interpreter keeps for this run (``TurnRequest.state``), saved with it."""
        self.direct_call = direct_call
        """``{id, tool, args}`` when the run is one tool call (``Runtime.call_tool``)."""
        self.seq = 0
        self.usage: dict[str, Any] = {"inputTokens": 0, "outputTokens": 0}
        self.status = "running"
        self.final_text = ""
        self.resume_token: str | None = None
        self.parked: str | None = None
        self.open_gate: str | None = None
        self.cancel_requested = False
        self.decided: list[str] = []
        self.call_ids: set[str] = set()
        self._finishing = False
        self.pause_seq: int | None = None
        self.known_decisions: dict[str, dict[str, Any]] = {}
        """Decisions of this run's gates read with its paused state (by approval id)."""
        self.stored_gates: set[str] | None = set()
        """Approval ids of this run that may have a stored record besides ``decided``: the
        gate it was paused at when restored (``None``: unknown, an older snapshot)."""
        self.root: Frame | None = None
        self.trace = TraceRecorder(trace_id_of(run_id), run_id, thread_id, options.trace_tags())
        self.stream: RunStream | None = None
        self.task: asyncio.Task[Any] | None = None
        self._hooks = services.hooks
        self._unjournaled: list[dict[str, Any]] = []
        self._staged_ops: list[Op] = []
        self._staged_events: list[tuple[dict[str, Any], Frame | None]] = []
        self._staged_history: list[tuple[str, str, list[dict[str, Any]]]] = []
        """``(thread, agent, messages)`` appends of stateful agents riding on the next commit."""
        self._leased = False
        self.lease_until = 0.0
        """``time.monotonic()`` until which this run's lease is surely its own (0: unknown)."""
        self._heartbeat: asyncio.Task[None] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._hook_chain: asyncio.Future[Any] | None = None
        self._in_hook_error = False

    @property
    def token(self) -> str:
        """The run's resume token."""
        return RESUME_PREFIX + self.id

    # -- events ------------------------------------------------------------------
    def emit(self, model: type[Any], frame: Frame | None, *fields: Any,
             **optional: Any) -> dict[str, Any]:
        """Build, record and deliver one event (see :meth:`record` and :meth:`deliver`)."""
        event = self.record(model, frame, *fields, **optional)
        self.deliver(event, frame)
        return event

    def record(self, model: type[Any], frame: Frame | None, *fields: Any,
               **optional: Any) -> dict[str, Any]:
        """Build one event from its ``model`` (the envelope comes from the run and
        ``frame``), number it and add it to the trace; returns its wire form."""
        event = self._build(self.seq, model, frame, *fields, **optional)
        self.seq += 1
        self.trace.add(event)
        if not self._unjournaled:
            self._schedule_flush()
        self._unjournaled.append(event)
        return event

    def _build(self, seq: int, model: type[Any], frame: Frame | None, *fields: Any,
               **optional: Any) -> dict[str, Any]:
        if frame is None:
            agent, parent = self.entry, None
        else:
            agent, parent = frame.agent, frame.parent_call
        return model(self.id, self.thread_id, seq, now_ms(), agent, *fields,
                     parent_id=parent, **optional).to_wire()

    def deliver(self, event: dict[str, Any], frame: Frame | None) -> None:
        """Hand a recorded event to the stream, the followers and the event hooks."""
        if self.stream is not None:
            self.stream._push(event)
        if self.services.waiters:
            self.services.notify(self.id)
        if self._hooks:
            self._call_hooks(event, frame)

    def transition(self, ops: list[Op], store: KeyValueStore | None, model: type[Any],
                   frame: Frame | None, *fields: Any) -> dict[str, Any]:
        """A state change and the event reporting it: recorded, committed in one store
        transaction with the journal, then delivered."""
        event = self.record(model, frame, *fields)
        self.commit(ops, store)
        self.deliver(event, frame)
        return event

    def commit(self, ops: list[Op] | tuple[()] = (), store: KeyValueStore | None = None) -> None:
        """Write ``ops`` (to ``store``, default the engine store) together with the events
        recorded since the last commit, in one transaction when both live in one store."""
        self._write(list(ops), store, [])

    def guarded_transition(self, ops: list[Op], store: KeyValueStore | None,
                           frame: Frame | None, *reports: tuple[Any, ...],
                           deliver: bool = True) -> list[dict[str, Any]] | None:
        """A state change whose ``ops`` hold ``add`` guards, and the events reporting it
        (``(model, *fields)`` each): both in one transaction. Only when every guard wins
        are the events recorded (and, with ``deliver``, delivered: otherwise the caller
        delivers them); if a guard lost, nothing was written and this returns ``None``."""
        events = [self._build(self.seq + i, model, frame, *fields)
                  for i, (model, *fields) in enumerate(reports)]
        if not self._write(ops, store, events):
            return None
        self.seq += len(events)
        for event in events:
            self.trace.add(event)
        for event in events if deliver else ():
            self.deliver(event, frame)
        return events

    def _write(self, ops: list[Op], store: KeyValueStore | None,
               fresh: list[dict[str, Any]]) -> bool:
        pending = self._unjournaled
        journal = Journal.ops(self.id, self.thread_id, [*pending, *fresh])
        kv = self.services.kv
        staged = self._staged_ops
        if journal:  # wakes followers in other processes (PostgreSQL, Redis)
            journal.append(JOURNAL_NOTICE)
        if store is None or store is kv:
            if (ops or journal or staged or self._staged_history) \
                    and not self._write_engine([*staged, *ops, *journal]):
                return False  # an empty transaction above would still cost a commit
        else:
            if ops and not store.write(ops):
                return False
            if journal or staged or self._staged_history:
                self._write_engine([*staged, *journal])
        self._staged_ops = []
        pending.clear()
        if self._staged_events:
            events, self._staged_events = self._staged_events, []
            for event, frame in events:
                self.deliver(event, frame)
        return True

    def _write_engine(self, ops: list[Op]) -> bool:
        """One engine-store transaction of ``ops`` and the staged history appends; an
        append that another writer got to first moves behind that writer's chunk."""
        log = self.services.history_log if self._staged_history else None
        for _ in range(100):
            appends = [op for thread, agent, messages in self._staged_history
                       for op in log.append_ops(thread, agent, messages)] if log else []
            if self.services.kv.write([*appends, *ops]):
                if log is not None:
                    log.appended(appends)
                    self._staged_history = []
                return True
            if log is None or not log.moved(appends):
                return False  # a guard of ``ops`` lost
        raise RuntimeError(f"run {self.id}: could not append to the conversation history: "
                           f"other writers kept appending first")

    def save_history(self, agent: AgentSpec, frame: Frame) -> None:
        """Append what this invocation of stateful ``agent`` added to its conversation:
        with the commit of its ``agent-finish`` when history lives in the engine store."""
        services = self.services
        messages = frame.messages[frame.history_len:]
        if services.memory is services.kv:
            self._staged_history.append((frame.thread, agent.name, messages))
        else:
            services.save_history(agent, frame.thread, messages)

    def stage(self, ops: list[Op], model: type[Any], frame: Frame | None,
              *fields: Any) -> None:
        """A state change of the engine store that rides on the next commit (saving a
        transaction): its event is recorded now and delivered once that commit is done."""
        event = self.record(model, frame, *fields)
        self._staged_ops += ops
        self._staged_events.append((event, frame))

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._flush_handle = loop.call_later(FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        if self._unjournaled:
            self.commit()

    def _call_hooks(self, event: dict[str, Any], frame: Frame | None) -> None:
        failures = []
        for hook in self._hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    self._chain_hook(result, frame)
            except BaseException as exc:  # noqa: BLE001 - a hook never breaks the run
                failures.append((hook, exc))
        for hook, exc in failures:  # reported once every hook has seen this event
            self._hook_failed(hook, exc, frame)

    def _chain_hook(self, awaitable: Any, frame: Frame | None) -> None:
        previous = self._hook_chain

        async def run_in_order() -> None:
            if previous is not None:
                await previous
            try:
                await awaitable
            except BaseException as exc:  # noqa: BLE001 - CancelledError of the hook included
                self._hook_failed(awaitable, exc, frame)

        self._hook_chain = asyncio.ensure_future(run_in_order())

    def _hook_failed(self, hook: Any, exc: BaseException, frame: Frame | None) -> None:
        name = getattr(hook, "__qualname__", None) or repr(hook)
        message = f"event hook {name} raised {error_text(exc)}"
        if self._finishing:  # nothing may follow run-finish: keep it in the trace instead
            self.trace.hook_errors.append(message)
            return
        if self._in_hook_error:
            return
        self._in_hook_error = True
        try:
            self.emit(ev.ErrorEvent, frame, message, "event_hook")
        finally:
            self._in_hook_error = False

    # -- lifecycle ---------------------------------------------------------------
    async def main(self) -> None:
        """Run (or continue) to the end; always finishes the stream."""
        self.task = asyncio.current_task()
        self.services.live[self.id] = self
        status = "completed"
        try:
            if self.root is None:
                self.emit(ev.RunStart, None, self.prompt, self.entry)
                self.root = Frame(agent=self.entry, depth=0, thread=self.thread_id,
                                  prompt=self.prompt)
            # A restored run replays up to its gate and claims the run's lease there, once
            # the decision is in: of several copies only one continues (see claim()).
            self.final_text = await self.run_agent(self.root)
        except AgentLimit as exc:
            status = "failed"
            self._unwind(str(exc))
        except RunFailed as exc:
            self.emit(ev.ErrorEvent, exc.frame, exc.message, exc.where)
            status = "failed"
            self._unwind(exc.message)
        except Superseded as exc:
            self._leave()
            self._cancel_flush()
            if self.stream is not None:
                self.stream._close(exc.error)
            return
        except asyncio.CancelledError:
            if not self.cancel_requested:
                if self.at_rest():  # its loop went away or its stream was closed: it stays
                    self._leave()   # paused and resumable; only its lease is given up
                    self.release()
                    self._close_stream()
                    raise
                # Working when its loop went away: nothing could resume it from here, so it
                # ends now, with run-finish and its trace, instead of being left unfinished.
                self._unwind(_LOOP_GONE)
                self._leave()
                await self._finish("cancelled")
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = "cancelled"
            self._unwind("the run was cancelled")
        except BaseException as exc:  # a bug must still end the stream readably
            message = f"internal error: {error_text(exc)}"
            self.emit(ev.ErrorEvent, None, message, "engine")
            status = "failed"
            self._unwind(message)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                self._leave()
                await self._finish(status)
                raise
        self._leave()
        await self._finish(status)

    def at_rest(self) -> bool:
        """Paused at a gate (the pause is in the store) or superseded by a newer copy in
        this process: a cancellation nobody asked for (its loop going away, its stream
        closed) ends its task with no events written; it stays resumable."""
        return self.open_gate is not None or self.services.live.get(self.id) is not self

    def _leave(self) -> None:
        """No longer executing in this process (a newer copy that took over stays listed)."""
        live = self.services.live
        if live.get(self.id) is self:
            del live[self.id]

    def _unwind(self, reason: str) -> None:
        """Close what a failed or cancelled run left open, innermost first.

        Every announced tool call gets its one ``tool-result`` (an error) and every
        started agent its ``agent-finish``; an open approval is withdrawn.
        """
        if self.open_gate:
            self._withdraw(self.open_gate, reason)
        chain = []
        frame = self.root
        while frame is not None:
            chain.append(frame)
            frame = frame.child
        for frame in reversed(chain):
            if frame.pending is not None:
                done = {r["tool_use_id"] for r in frame.results}
                for use in frame.pending:
                    if use["id"] in frame.announced and use["id"] not in done:
                        self.emit(ev.ToolResult, frame, use["id"], use["name"],
                                  error=f"not completed: {reason}")
            if frame.started and not frame.finished:
                frame.finished = True
                agent = self.services.spec.agent(frame.agent)
                self.emit(ev.AgentFinish, frame, agent.role, frame.depth, "", frame.usage,
                          error=reason)

    def _withdraw(self, approval_id: str, reason: str) -> None:
        services = self.services
        record = services.broker.get(approval_id)
        services.broker.cancel(approval_id)
        self.open_gate = None
        if record is not None and record["kind"] == "plan":
            plan = services.plans.resolve(record["target"], thread_id=self.thread_id)
            if plan["status"] == "pending_approval":
                services.plans.set_status(record["target"], "draft",
                                          {"withdrawn": f"approval withdrawn: {reason}"},
                                          thread_id=plan["threadId"])

    async def _finish(self, status: str) -> None:
        self.status = status
        self.parked = None
        if self._hook_chain is not None:  # async hooks finish (and report) before the end
            try:
                await self._hook_chain
            except BaseException:  # noqa: BLE001 # pragma: no cover - reported by the hook
                pass
        self._finishing = True
        event = self.record(ev.RunFinish, None, status, self.final_text, dict(self.usage),
                            self.trace.trace_id)
        self._cancel_flush()
        problem = self._final_commit([*self.services.traces.save_ops(self.trace.to_dict()),
                                      ("delete", f"runs/{self.id}", None), *self.release_ops()])
        reported = len(self.trace.hook_errors)
        self.deliver(event, None)
        if self._hook_chain is not None:
            try:
                await self._hook_chain
            except BaseException:  # noqa: BLE001 # pragma: no cover - reported by the hook
                pass
        if len(self.trace.hook_errors) > reported and problem is None:
            problem = self._final_commit(  # hooks that failed on run-finish
                list(self.services.traces.save_ops(self.trace.to_dict())))
        self._close_stream(problem)

    def _final_commit(self, ops: list[Op]) -> BaseException | None:
        """Commit the end of the run; a failing store must still let the stream end (the
        consumer then gets this error after ``run-finish``)."""
        try:
            self.commit(ops)
        except Exception as exc:
            return RuntimeError(f"run {self.id} finished but its trace could not be stored: "
                                f"{error_text(exc)}")
        return None

    def _cancel_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def _close_stream(self, error: BaseException | None = None) -> None:
        if self.stream is not None:
            self.stream._close(error)

    def finish_unstarted_cancel(self) -> None:
        """``cancel()`` before the first event: finish without running."""
        self.status = "cancelled"
        event = self.record(ev.RunFinish, None, "cancelled", "", self.usage,
                            self.trace.trace_id)
        problem = self._final_commit(list(self.services.traces.save_ops(self.trace.to_dict())))
        self.deliver(event, None)
        self._close_stream(problem)

    async def cancel_paused(self) -> None:
        """``cancel()`` of a run paused at a gate that no task of this process executes
        (restored and not started, or its stream was closed at the gate): take it over,
        withdraw its approval and end it with ``run-finish`` status ``cancelled``.

        Raises:
            RuntimeError: another runtime holds its lease (:class:`RunLeasedError`) or
                moved it on meanwhile.
        """
        try:
            self.claim()
        except Superseded as exc:
            raise exc.error from None
        self.cancel_requested = True
        if self.open_gate is None and self.stored_gates:
            self.open_gate = next(iter(self.stored_gates))
        self._unwind("the run was cancelled")
        await self._finish("cancelled")

    def is_waiting_for_person(self) -> bool:
        """True while parked at a gate that only ``respond_to_approval`` can open."""
        return (self.parked is not None and self.services.broker.decision(self.parked) is None
                and self.services.approval_timeout is None)

    # -- persistence ---------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The paused state: everything needed to continue in a new process."""
        assert self.root is not None
        return {"runId": self.id, "threadId": self.thread_id, "entry": self.entry,
                "prompt": self.prompt, "seq": self.seq, "usage": self.usage,
                "root": self.root.to_json(), "options": self.interpreter_options,
                "interpreterState": self.interpreter_state,
                "runOptions": self.options.to_json(), "call": self.direct_call,
                "decided": self.decided, "pauseSeq": self.pause_seq,
                "openGate": self.open_gate,
                "callIds": sorted(self.call_ids),
                "traceId": self.trace.trace_id, "status": "paused"}

    @classmethod
    def restore(cls, services: RunServices, state: dict[str, Any], approver: Any,
                stored: dict[str, Any] | None = None, *,
                journal: list[dict[str, Any]] | None = None,
                decisions: dict[str, dict[str, Any]] | None = None) -> Run:
        """Rebuild a paused run from :meth:`snapshot`. Read with the state when given:
        ``stored`` its trace as stored, ``journal`` its journaled events, ``decisions``
        the decisions of its gates by approval id."""
        options = RunOptions.from_json(state.get("runOptions") or {"tags": state.get("tags")})
        run = cls(services, run_id=state["runId"], thread_id=state["threadId"],
                  entry=state["entry"], prompt=state["prompt"], approver=approver,
                  options=options, interpreter_options=state.get("options") or {},
                  direct_call=state.get("call"))
        run.seq = state["seq"]
        run.usage = state["usage"]
        run.interpreter_state = state.get("interpreterState") or {}
        run.root = Frame.from_json(state["root"])
        run.decided = list(state.get("decided") or [])
        run.call_ids = set(state.get("callIds") or [])
        run.pause_seq = state.get("pauseSeq")
        run.stored_gates = {state["openGate"]} if state.get("openGate") else \
            (set() if "openGate" in state else None)
        run.resume_token = run.token
        run.known_decisions = dict(decisions or {})
        if stored is None or stored.get("traceId") != state["traceId"]:
            stored = services.traces.stored(state["traceId"])
        if stored is not None:
            # every journaled event: a process that stopped after the pause got further
            stored["events"] = services.journal.read(run.id) if journal is None else journal
            if stored["events"]:
                run.seq = max(run.seq, stored["events"][-1]["seq"] + 1)
            run.trace = TraceRecorder.from_dict(stored)
            run.trace.status = "running"
        return run

    def stored_decision(self, approval_id: str) -> dict[str, Any] | None:
        """The recorded decision of one of this run's gates (``None``: none yet); one read
        with the paused state at restore answers without asking the store again."""
        known = self.known_decisions.get(approval_id)
        return known if known is not None else self.services.broker.decision(approval_id)

    def may_have_gate(self, approval_id: str) -> bool:
        """Whether a stored approval record ``approval_id`` of this run may exist (so a
        gate reads the store only when it can find something there)."""
        return (approval_id in self.decided or self.stored_gates is None
                or approval_id in self.stored_gates)

    def persist(self, open_approval: dict[str, Any] | None = None) -> None:
        """Store the paused state (and the approval it waits for) with the journal."""
        services = self.services
        ops: list[Op] = []
        if open_approval is not None:
            ops += services.broker.open_ops(open_approval)
        ops.append(("put", f"runs/{self.id}", self.snapshot()))
        ops += services.traces.save_ops({**self.trace.to_dict(), "status": "paused"})
        # Parked at a gate, the run is anyone's to resume: whoever continues it after the
        # decision takes the lease then (and checks this pause is still the latest).
        ops += self.release_ops()
        self.commit(ops)

    def claim(self) -> None:
        """Take (or renew) the run's lease: only its holder may continue the run.

        Raises:
            Superseded: another owner holds a live lease, or the stored state this
                run was restored from was continued by someone else meanwhile.
        """
        services = self.services
        taken = time.monotonic()
        try:
            services.leases.acquire(self.id, services.owner, services.lease_seconds,
                                    lambda owner: services.owner_is_gone(owner, self.id))
        except RunLeasedError as exc:
            raise Superseded(exc) from None
        self.lease_until = taken + services.lease_seconds
        if not self._leased:
            self._leased = True
            state = services.kv.get(f"runs/{self.id}")
            if state is None or state.get("pauseSeq") != self.pause_seq:
                self.release()
                raise Superseded(RuntimeError(
                    f"run {self.id} was already resumed by another runtime, which moved it on "
                    f"from this pause; this copy stopped without touching it"))
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            try:
                self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
            except RuntimeError:
                self._heartbeat = None

    async def _beat(self) -> None:
        services = self.services
        while True:
            await asyncio.sleep(services.lease_seconds / 3)
            renewed = time.monotonic()
            if not services.leases.renew(self.id, services.owner, services.lease_seconds):
                self.lease_until = 0.0
                return
            self.lease_until = renewed + services.lease_seconds

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            if self._heartbeat is not asyncio.current_task():
                self._heartbeat.cancel()
            self._heartbeat = None

    def release(self) -> None:
        """Give up this process's hold on the run (it may be resumed elsewhere)."""
        self._cancel_flush()
        self.commit(self.release_ops())

    def release_ops(self) -> list[Op]:
        """The store writes that give up this process's lease on the run."""
        self._stop_heartbeat()
        if not self._leased:
            return []
        self._leased = False
        services = self.services
        # Within the first half of the lease nobody else can hold it: no need to read it.
        held = time.monotonic() < self.lease_until - services.lease_seconds / 2
        self.lease_until = 0.0
        return services.leases.release_ops(self.id, services.owner, held=held)

    # -- agents ------------------------------------------------------------------
    async def run_agent(self, frame: Frame) -> str:
        """Play an agent invocation (fresh or resumed) to its final text."""
        services = self.services
        agent = services.spec.agent(frame.agent)
        if not frame.started:
            self.emit(ev.AgentStart, frame, agent.role, frame.depth)
            call = self.direct_call if frame.depth == 0 else None
            if call is not None:  # a direct tool call (Runtime.call_tool): no model turn
                frame.pending = [{"id": call["id"], "name": call["tool"], "input": call["args"]}]
                self.call_ids.add(call["id"])
            else:
                if any(t == frame.thread and a == agent.name for t, a, _ in self._staged_history):
                    self.commit()  # this run already added to that conversation
                history = services.history(agent, frame.thread)
                frame.history_len = len(history)
                frame.messages = [*history,
                                  {"role": "user", "content": [{"type": "text",
                                                                "text": frame.prompt}]}]
            frame.started = True
        try:
            await services.tools.prepare(agent)
        except (RuntimeError, ValueError) as exc:  # an external MCP server that cannot start
            raise RunFailed(str(exc), f"toolkit:{agent.name}", frame) from None
        tool_defs = services.tools.definitions(agent)
        while True:
            if frame.pending is not None:
                while len(frame.results) < len(frame.pending):
                    use = frame.pending[len(frame.results)]
                    if use["id"] not in frame.announced:
                        self._announce(frame, use)
                    frame.results.append(await self._call_tool(frame, agent, use))
                frame.messages.append({"role": "user", "content": frame.results})
                done = frame.results
                frame.pending, frame.results, frame.announced = None, [], []
                if frame.depth == 0 and self.direct_call is not None:
                    frame.finished = True
                    self.emit(ev.AgentFinish, frame, agent.role, frame.depth, done[0]["content"],
                              frame.usage)
                    return done[0]["content"]
            if frame.turns >= agent.effective_max_turns:
                message = (f"agent {agent.name!r} reached maxTurns={agent.effective_max_turns} "
                           f"without a final answer")
                self.emit(ev.ErrorEvent, frame, message, f"agent:{agent.name}")
                frame.finished = True
                self.emit(ev.AgentFinish, frame, agent.role, frame.depth, "", frame.usage,
                          error=message)
                raise AgentLimit(message)
            frame.turns += 1
            text, uses = await self._model_turn(frame, agent, tool_defs)
            checked = [(u, *checked_args(u.input)) for u in uses]
            content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            content += [{"type": "tool_use", "id": u.id, "name": u.name, "input": args}
                        for u, args, _, _ in checked]
            if content:
                frame.messages.append({"role": "assistant", "content": content})
            if not uses:
                if agent.stateful:
                    self.save_history(agent, frame)
                frame.finished = True
                self.emit(ev.AgentFinish, frame, agent.role, frame.depth, text, frame.usage)
                return text
            # All calls of one model turn are announced together, so the stream
            # (and a replay built from it) shows which calls were parallel.
            for u in uses:
                if u.id in self.call_ids:
                    raise RunFailed(f"the interpreter reused tool-use id {u.id!r}; ids must be "
                                    f"unique within a run", "interpreter", frame)
                self.call_ids.add(u.id)
            frame.pending = [{"id": u.id, "name": u.name, "input": args}
                             | ({"invalid": problem} if problem else {})
                             | ({"nulled": nulled} if nulled else {})
                             for u, args, problem, nulled in checked]
            for use in frame.pending:
                self._announce(frame, use)

    def _announce(self, frame: Frame, use: dict[str, Any]) -> None:
        """Emit a call's ``tool-call`` (arguments already under the JSON rule)."""
        warnings = _nulled_warnings(use.get("nulled"))
        self.emit(ev.ToolCall, frame, use["id"], use["name"], use["input"],
                  warnings=warnings or ev.ABSENT)
        frame.announced.append(use["id"])

    async def _model_turn(self, frame: Frame, agent: AgentSpec,
                          tool_defs: list[dict[str, Any]]) -> tuple[str, list[ToolUse]]:
        interpreter = self.services.interpreter_for(agent)
        request = TurnRequest(
            agent=agent.name, role=agent.role, model=agent.model.id if agent.model else None,
            system=agent.system_prompt, messages=frame.messages, tools=tool_defs,
            thread_id=self.thread_id, run_id=self.id, turn=frame.turns,
            prompt_cache_key=agent.prompt_cache_key, options=self.interpreter_options,
            state=self.interpreter_state,
        )
        parts: list[str] = []
        uses: list[ToolUse] = []
        count = 0
        run_id, thread_id, name, parent = self.id, self.thread_id, frame.agent, frame.parent_call
        deliver, trace_add, text_delta = self.deliver, self.trace.add, ev.TextDelta.wire
        unjournaled = self._unjournaled
        try:
            async for item in interpreter.turn(request):
                count += 1
                if count % 2048 == 0:
                    await asyncio.sleep(0)  # a fast stream must not starve the loop
                kind = type(item)
                if kind is TextDelta:
                    parts.append(item.text)
                    event = text_delta(run_id, thread_id, self.seq, now_ms(), name, item.text,
                                       parent)
                    self.seq += 1
                    trace_add(event)
                    if not unjournaled:
                        self._schedule_flush()
                    unjournaled.append(event)
                    deliver(event, frame)
                elif kind is ToolUse:
                    uses.append(item)
                elif kind is ReasoningDelta:
                    self.emit(ev.ReasoningDelta, frame, item.text)
                elif kind is Usage:
                    _add_usage(frame.usage, item)
                    _add_usage(self.usage, item)
                    cached = bool(item.cache_read_tokens or item.cache_write_tokens)
                    self.emit(ev.UsageEvent, frame, item.input_tokens, item.output_tokens,
                              cache_read_tokens=item.cache_read_tokens if cached else ev.ABSENT,
                              cache_write_tokens=item.cache_write_tokens if cached
                              else ev.ABSENT,
                              cost_usd=ev.ABSENT if item.cost_usd is None else item.cost_usd)
        except InterpreterError as exc:
            raise RunFailed(str(exc), f"interpreter:{interpreter.name}", frame) from None
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a provider bug fails the run readably
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise RunFailed(f"interpreter {interpreter.name!r} failed for agent "
                            f"{agent.name!r}: {error_text(exc)}",
                            f"interpreter:{interpreter.name}", frame) from None
        return "".join(parts), uses

    # -- tools -------------------------------------------------------------------
    def tool_result(self, frame: Frame, use: dict[str, Any], *, result: Any = None,
                    error: str | None = None) -> dict[str, Any]:
        """Emit the call's ``tool-result``; return the message the model sees.

        A result with no JSON form becomes an error; NaN / infinities become null and
        are flagged (``warnings``), also in the text the model reads."""
        nulled: list[str] = []
        text: str | None = None
        if error is None:
            try:
                result, glimpse, text = self._shape_result(result, use["name"], nulled)
            except ToolError as exc:
                error = str(exc)
            except Exception as exc:  # a value the reference store refused
                error = f"tool {use['name']!r} returned a value that cannot be kept: " \
                        f"{error_text(exc)}"
        if error is not None:
            self.emit(ev.ToolResult, frame, use["id"], use["name"], error=error)
            return {"type": "tool_result", "tool_use_id": use["id"], "content": error,
                    "is_error": True}
        warnings = _nulled_warnings(nulled)
        self.emit(ev.ToolResult, frame, use["id"], use["name"], result=result,
                  glimpse=ev.ABSENT if glimpse is None else glimpse,
                  warnings=warnings or ev.ABSENT)
        content = result if isinstance(result, str) else text or canonical(result)
        if warnings:
            content += "\n(" + "; ".join(warnings) + ")"
        return {"type": "tool_result", "tool_use_id": use["id"], "content": content,
                "is_error": False}

    def _shape_result(self, result: Any, tool: str,
                      nulled: list[str]) -> tuple[Any, Any, str | None]:
        """Glimpse-marked and large results become references; the model sees the glimpse.

        Returns ``(value, glimpse, canonical text of value if it was computed)``."""
        refs = self.services.refs
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Glimpse):
            value, _ = tool_result_value(result[0], tool)
            envelope = refs.create("tool_result", value, glimpse=result[1].value)
            return envelope, envelope["glimpse"], None
        if isinstance(result, Glimpse):
            value, found = tool_result_value(result.value, tool)
            nulled += found
            return value, value, None
        result, found = tool_result_value(result, tool)
        nulled += found
        if isinstance(result, dict) and {"kind", "id", "glimpse", "createdAt"} <= set(result):
            return result, result["glimpse"], None
        if not isinstance(result, str | int | float | bool | type(None)):
            text = canonical(result)
            if len(text) > self.services.reference_threshold_bytes:
                envelope = refs.create("tool_result", result)
                return envelope, envelope["glimpse"], None
            return result, None, text
        return result, None, None

    async def _call_tool(self, frame: Frame, agent: AgentSpec,
                         use: dict[str, Any]) -> dict[str, Any]:
        name = use["name"]
        services = self.services
        binding = services.tools.binding(agent, name, direct=frame.depth == 0
                                         and self.direct_call is not None)
        if binding is None:
            return self.tool_result(frame, use, error=(
                f"unknown tool {name!r} for agent {agent.name!r}; it can call "
                f"{[d['name'] for d in services.tools.definitions(agent)]}"))
        if use.get("invalid"):
            return self.tool_result(frame, use, error=use["invalid"])
        try:
            args = binding.validate(use["input"])
        except (ValueError, TypeError) as exc:
            return self.tool_result(frame, use, error=str(exc))
        decision = await gate(
            self, frame, agent, use, kind="tool", target=name,
            payload={"tool": name, "args": use["input"]},
            policy=services.tool_policy(agent, binding.policy_name or name),
            predicate_args=use["input"])
        feedback = decision.get("feedback")
        if decision["outcome"] == "reject":
            return self.tool_result(frame, use, error=(
                f"the call to {name} was rejected by the reviewer"
                f"{': ' + str(feedback) if feedback else ''}. Do not retry this call."))
        if decision["outcome"] == "revise":
            partial = decision.get("partial")
            return self.tool_result(frame, use, error=(
                f"the reviewer asked you to revise the call to {name}"
                f"{': ' + str(feedback) if feedback else ''}"
                f"{'; partial: ' + canonical(partial) if partial else ''}"))
        if binding.builtin is not None:
            return await binding.builtin(self, frame, agent, use, args)  # type: ignore[no-any-return]
        ctx = services.context(self, frame.agent, use["id"])
        try:
            result = await call_handler(binding, args, ctx, timeout=services.tool_timeout(name))
        except ToolError as exc:
            return self.tool_result(frame, use, error=str(exc))
        return self.tool_result(frame, use, result=result)


def _nulled_warnings(paths: list[str] | None) -> list[str]:
    return [f"NaN or infinity at {p} became null" for p in paths or ()]
