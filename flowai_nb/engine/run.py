"""One run: the agent loop, tool calls, gates, plans and events.

Everything a run does is announced as an event through :meth:`Run.emit`,
which numbers it, records it in the trace, hands it to the stream and calls
the event hooks. That single path feeds every surface (SPEC §5).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from ..authoring.agents import AgentSpec
from ..authoring.approvals import ApprovalPolicy
from ..authoring.references import Glimpse
from ..interpreters.base import (
    InterpreterError,
    ReasoningDelta,
    TextDelta,
    ToolUse,
    TurnRequest,
    Usage,
)
from ._util import canonical, jsonable, maybe_await, new_id, now_ms
from .errors import PlanNotFoundError
from .frames import Frame
from .references import parse_envelope
from .traces import TraceRecorder

if TYPE_CHECKING:
    from .runtime import Runtime
    from .stream import RunStream

__all__ = ["Run", "RESUME_PREFIX"]

RESUME_PREFIX = "resume-"
_APPROVED = {"outcome": "approve", "feedback": None, "partial": None}


class _RunFailed(Exception):
    """Ends the run with an ``error`` event and ``run-finish`` status ``failed``."""

    def __init__(self, message: str, where: str, frame: Frame | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.frame = frame


class _AgentLimit(Exception):
    """An agent reached ``maxTurns``; its ``error`` event was already emitted."""


class _Superseded(Exception):
    """Another process resumed this run first; this copy stops quietly."""


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

    def __init__(self, runtime: Runtime, *, run_id: str, thread_id: str, entry: str,
                 prompt: str, approver: Any, options: dict[str, Any],
                 tags: dict[str, Any]) -> None:
        self.rt = runtime
        self.id = run_id
        self.thread_id = thread_id
        self.entry = entry
        self.prompt = prompt
        self.approver = approver
        self.options = options
        self.tags = tags
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
        self.claimant = new_id("claim")
        self.root: Frame | None = None
        self.trace = TraceRecorder(f"trace-{run_id}", run_id, thread_id, tags)
        self.stream: RunStream | None = None
        self.task: asyncio.Task[Any] | None = None
        self._hooks = runtime._event_hooks
        self._hook_chain: asyncio.Future[Any] | None = None
        self._in_hook_error = False

    # -- events ------------------------------------------------------------------
    def emit(self, etype: str, frame: Frame | None, fields: dict[str, Any]) -> dict[str, Any]:
        """Number, record, deliver and hook one event."""
        event = {"type": etype, "runId": self.id, "threadId": self.thread_id, "seq": self.seq,
                 "ts": now_ms(), "agent": frame.agent if frame is not None else self.entry}
        if frame is not None and frame.parent_call is not None:
            event["parentId"] = frame.parent_call
        event.update(fields)
        self.seq += 1
        self.trace.add(event)
        if self.stream is not None:
            self.stream._push(event)
        if self._hooks:
            self._call_hooks(event, frame)
        return event

    def _call_hooks(self, event: dict[str, Any], frame: Frame | None) -> None:
        failures = []
        for hook in self._hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    self._chain_hook(result, frame)
            except Exception as exc:  # a hook never breaks the run
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
            except Exception as exc:
                self._hook_failed(awaitable, exc, frame)

        self._hook_chain = asyncio.ensure_future(run_in_order())

    def _hook_failed(self, hook: Any, exc: Exception, frame: Frame | None) -> None:
        name = getattr(hook, "__qualname__", None) or repr(hook)
        message = f"event hook {name} raised {type(exc).__name__}: {exc}"
        if self._finishing:  # nothing may follow run-finish: keep it in the trace instead
            self.trace.hook_errors.append(message)
            return
        if self._in_hook_error:
            return
        self._in_hook_error = True
        try:
            self.emit("error", frame, {"message": message, "where": "event_hook"})
        finally:
            self._in_hook_error = False

    # -- lifecycle ---------------------------------------------------------------
    async def main(self) -> None:
        """Run (or continue) to the end; always finishes the stream."""
        self.task = asyncio.current_task()
        self.rt._live[self.id] = self
        status = "completed"
        try:
            if self.root is None:
                self.emit("run-start", None, {"prompt": self.prompt, "entryAgent": self.entry})
                self.root = Frame(agent=self.entry, depth=0, thread=self.thread_id,
                                  prompt=self.prompt)
            else:
                self._claim()  # a restored run: only one copy may continue it
            self.final_text = await self.run_agent(self.root)
        except _AgentLimit as exc:
            status = "failed"
            self._unwind(str(exc))
        except _RunFailed as exc:
            self.emit("error", exc.frame, {"message": exc.message, "where": exc.where})
            status = "failed"
            self._unwind(exc.message)
        except _Superseded:
            self.rt._live.pop(self.id, None)
            if self.stream is not None:
                self.stream._close(RuntimeError(
                    f"run {self.id} was already resumed by another runtime; this copy stopped "
                    f"without touching it"))
            return
        except asyncio.CancelledError:
            if not self.cancel_requested:
                # The loop is going away (asyncio.run ended, kernel shutdown):
                # the paused state stays persisted and resumable.
                self.rt._live.pop(self.id, None)
                self._close_stream()
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = "cancelled"
            self._unwind("the run was cancelled")
        except Exception as exc:  # a bug must still end the stream readably
            message = f"internal error: {type(exc).__name__}: {exc}"
            self.emit("error", None, {"message": message, "where": "engine"})
            status = "failed"
            self._unwind(message)
        self.rt._live.pop(self.id, None)
        await self._finish(status)

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
                        self.emit("tool-result", frame, {"callId": use["id"], "tool": use["name"],
                                                         "error": f"not completed: {reason}"})
            if frame.started and not frame.finished:
                frame.finished = True
                agent = self.rt.spec.agent(frame.agent)
                self.emit("agent-finish", frame, {"role": agent.role, "depth": frame.depth,
                                                  "text": "", "usage": frame.usage,
                                                  "error": reason})

    def _withdraw(self, approval_id: str, reason: str) -> None:
        record = self.rt._broker.get(approval_id)
        self.rt._broker.cancel(approval_id)
        self.open_gate = None
        if record is not None and record["kind"] == "plan":
            plan = self.rt._plans.get(record["target"])
            if plan["status"] == "pending_approval":
                self.rt._plans.set_status(record["target"], "draft",
                                          {"withdrawn": f"approval withdrawn: {reason}"})

    async def _finish(self, status: str) -> None:
        self.status = status
        self.parked = None
        if self._hook_chain is not None:  # async hooks finish (and report) before the end
            try:
                await self._hook_chain
            except Exception:  # pragma: no cover - reported by the hook itself
                pass
        self._finishing = True
        self.emit("run-finish", None, {"status": status, "text": self.final_text,
                                       "usage": dict(self.usage),
                                       "traceId": self.trace.trace_id})
        if self._hook_chain is not None:
            try:
                await self._hook_chain
            except Exception:  # pragma: no cover - reported by the hook itself
                pass
        self.rt._traces.save(self.trace.to_dict())
        self.rt._kv.delete(f"runs/{self.id}")
        self._close_stream()

    def _close_stream(self) -> None:
        if self.stream is not None:
            self.stream._close()

    def finish_unstarted_cancel(self) -> None:
        """``cancel()`` before the first event: finish without running."""
        self.status = "cancelled"
        self.emit("run-finish", None, {"status": "cancelled", "text": "", "usage": self.usage,
                                       "traceId": self.trace.trace_id})
        self.rt._traces.save(self.trace.to_dict())
        self._close_stream()

    def is_waiting_for_person(self) -> bool:
        """True while parked at a gate that only ``respond_to_approval`` can open."""
        return (self.parked is not None and self.rt._broker.decision(self.parked) is None
                and self.rt.approval_timeout is None)

    # -- persistence ---------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The paused state: everything needed to continue in a new process."""
        assert self.root is not None
        return {"runId": self.id, "threadId": self.thread_id, "entry": self.entry,
                "prompt": self.prompt, "seq": self.seq, "usage": self.usage,
                "root": self.root.to_json(), "options": self.options, "tags": self.tags,
                "decided": self.decided, "pauseSeq": self.pause_seq,
                "callIds": sorted(self.call_ids),
                "traceId": self.trace.trace_id, "status": "paused"}

    @classmethod
    def restore(cls, runtime: Runtime, state: dict[str, Any], approver: Any) -> Run:
        """Rebuild a paused run from :meth:`snapshot`."""
        run = cls(runtime, run_id=state["runId"], thread_id=state["threadId"],
                  entry=state["entry"], prompt=state["prompt"], approver=approver,
                  options=state.get("options") or {}, tags=state.get("tags") or {})
        run.seq = state["seq"]
        run.usage = state["usage"]
        run.root = Frame.from_json(state["root"])
        run.decided = list(state.get("decided") or [])
        run.call_ids = set(state.get("callIds") or [])
        run.pause_seq = state.get("pauseSeq")
        run.resume_token = RESUME_PREFIX + run.id
        stored = runtime._traces.get(state["traceId"])
        if stored is not None:
            run.trace = TraceRecorder.from_dict(stored)
            run.trace.status = "running"
        return run

    def _persist(self) -> None:
        self.rt._kv.put(f"runs/{self.id}", self.snapshot())
        self.rt._traces.save({**self.trace.to_dict(), "status": "paused"})

    def _claim(self) -> None:
        """Claim the continuation after a pause; exactly one process (one Run) wins."""
        if self.pause_seq is None:
            return
        key = f"run-claims/{self.id}/{self.pause_seq}"
        if not self.rt._kv.add(key, self.claimant) and self.rt._kv.get(key) != self.claimant:
            raise _Superseded()

    # -- agents ------------------------------------------------------------------
    async def run_agent(self, frame: Frame) -> str:
        """Play an agent invocation (fresh or resumed) to its final text."""
        agent = self.rt.spec.agent(frame.agent)
        if not frame.started:
            self.emit("agent-start", frame, {"role": agent.role, "depth": frame.depth})
            history = self.rt._history(agent, frame.thread)
            frame.messages = [*history,
                              {"role": "user", "content": [{"type": "text",
                                                            "text": frame.prompt}]}]
            frame.started = True
        tool_defs = self.rt._tool_defs(agent)
        while True:
            if frame.pending is not None:
                while len(frame.results) < len(frame.pending):
                    use = frame.pending[len(frame.results)]
                    if use["id"] not in frame.announced:
                        self.emit("tool-call", frame, {"callId": use["id"], "tool": use["name"],
                                                       "args": use["input"]})
                        frame.announced.append(use["id"])
                    frame.results.append(await self._call_tool(frame, agent, use))
                frame.messages.append({"role": "user", "content": frame.results})
                frame.pending, frame.results, frame.announced = None, [], []
            if frame.turns >= agent.effective_max_turns:
                message = (f"agent {agent.name!r} reached maxTurns={agent.effective_max_turns} "
                           f"without a final answer")
                self.emit("error", frame, {"message": message, "where": f"agent:{agent.name}"})
                frame.finished = True
                self.emit("agent-finish", frame, {"role": agent.role, "depth": frame.depth,
                                                  "text": "", "usage": frame.usage,
                                                  "error": message})
                raise _AgentLimit(message)
            frame.turns += 1
            text, uses = await self._model_turn(frame, agent, tool_defs)
            content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            content += [{"type": "tool_use", "id": u.id, "name": u.name, "input": u.input}
                        for u in uses]
            if content:
                frame.messages.append({"role": "assistant", "content": content})
            if not uses:
                if agent.stateful:
                    self.rt._save_history(agent, frame.thread, frame.messages)
                frame.finished = True
                self.emit("agent-finish", frame, {"role": agent.role, "depth": frame.depth,
                                                  "text": text, "usage": frame.usage})
                return text
            # All calls of one model turn are announced together, so the stream
            # (and a replay built from it) shows which calls were parallel.
            for u in uses:
                if u.id in self.call_ids:
                    raise _RunFailed(f"the interpreter reused tool-use id {u.id!r}; ids must be "
                                     f"unique within a run", "interpreter", frame)
                self.call_ids.add(u.id)
            frame.pending = [{"id": u.id, "name": u.name, "input": u.input} for u in uses]
            for use in frame.pending:
                self.emit("tool-call", frame, {"callId": use["id"], "tool": use["name"],
                                               "args": use["input"]})
                frame.announced.append(use["id"])

    async def _model_turn(self, frame: Frame, agent: AgentSpec,
                          tool_defs: list[dict[str, Any]]) -> tuple[str, list[ToolUse]]:
        interpreter = self.rt._interpreter_for(agent)
        request = TurnRequest(
            agent=agent.name, role=agent.role, model=agent.model.id if agent.model else None,
            system=agent.system_prompt, messages=frame.messages, tools=tool_defs,
            thread_id=self.thread_id, run_id=self.id, turn=frame.turns,
            prompt_cache_key=agent.prompt_cache_key, options=self.options,
        )
        parts: list[str] = []
        uses: list[ToolUse] = []
        count = 0
        try:
            async for item in interpreter.turn(request):
                count += 1
                if count % 2048 == 0:
                    await asyncio.sleep(0)  # a fast stream must not starve the loop
                kind = type(item)
                if kind is TextDelta:
                    parts.append(item.text)
                    self.emit("text-delta", frame, {"delta": item.text})
                elif kind is ToolUse:
                    uses.append(item)
                elif kind is ReasoningDelta:
                    self.emit("reasoning-delta", frame, {"delta": item.text})
                elif kind is Usage:
                    _add_usage(frame.usage, item)
                    _add_usage(self.usage, item)
                    fields = {"inputTokens": item.input_tokens,
                              "outputTokens": item.output_tokens}
                    if item.cache_read_tokens or item.cache_write_tokens:
                        fields["cacheReadTokens"] = item.cache_read_tokens
                        fields["cacheWriteTokens"] = item.cache_write_tokens
                    if item.cost_usd is not None:
                        fields["costUsd"] = item.cost_usd
                    self.emit("usage", frame, fields)
        except InterpreterError as exc:
            raise _RunFailed(str(exc), f"interpreter:{interpreter.name}", frame) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _RunFailed(f"interpreter {interpreter.name!r} failed for agent "
                             f"{agent.name!r}: {type(exc).__name__}: {exc}",
                             f"interpreter:{interpreter.name}", frame) from None
        return "".join(parts), uses

    # -- tools -------------------------------------------------------------------
    def _tool_result(self, frame: Frame, use: dict[str, Any], *, result: Any = None,
                     error: str | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"callId": use["id"], "tool": use["name"]}
        if error is not None:
            fields["error"] = error
            self.emit("tool-result", frame, fields)
            return {"type": "tool_result", "tool_use_id": use["id"], "content": error,
                    "is_error": True}
        result, glimpse = self._shape_result(result)
        fields["result"] = result
        if glimpse is not None:
            fields["glimpse"] = glimpse
        self.emit("tool-result", frame, fields)
        content = result if isinstance(result, str) else canonical(result)
        return {"type": "tool_result", "tool_use_id": use["id"], "content": content,
                "is_error": False}

    def _shape_result(self, result: Any) -> tuple[Any, Any]:
        """Glimpse-marked and large results become references; the model sees the glimpse."""
        refs = self.rt._refs
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Glimpse):
            envelope = refs.create("tool_result", result[0], glimpse=result[1].value)
            return envelope, envelope["glimpse"]
        if isinstance(result, Glimpse):
            return jsonable(result.value), jsonable(result.value)
        result = jsonable(result)
        if isinstance(result, dict) and {"kind", "id", "glimpse", "createdAt"} <= set(result):
            return result, result["glimpse"]
        if not isinstance(result, str | int | float | bool | type(None)):
            size = len(canonical(result))
            if size > self.rt.reference_threshold_bytes:
                envelope = refs.create("tool_result", result)
                return envelope, envelope["glimpse"]
        return result, None

    async def _call_tool(self, frame: Frame, agent: AgentSpec,
                         use: dict[str, Any]) -> dict[str, Any]:
        name = use["name"]
        binding = self.rt._tool_binding(agent, name)
        if binding is None:
            return self._tool_result(frame, use, error=(
                f"unknown tool {name!r} for agent {agent.name!r}; it can call "
                f"{[d['name'] for d in self.rt._tool_defs(agent)]}"))
        try:
            args = binding.validate(use["input"])
        except (ValueError, TypeError) as exc:
            return self._tool_result(frame, use, error=str(exc))
        decision = await self._gate(
            frame, agent, use, kind="tool", target=name,
            payload={"tool": name, "args": use["input"]},
            policy=self.rt.spec.tool_policy(agent, name), predicate_args=use["input"])
        feedback = decision.get("feedback")
        if decision["outcome"] == "reject":
            return self._tool_result(frame, use, error=(
                f"the call to {name} was rejected by the reviewer"
                f"{': ' + str(feedback) if feedback else ''}. Do not retry this call."))
        if decision["outcome"] == "revise":
            partial = decision.get("partial")
            return self._tool_result(frame, use, error=(
                f"the reviewer asked you to revise the call to {name}"
                f"{': ' + str(feedback) if feedback else ''}"
                f"{'; partial: ' + canonical(partial) if partial else ''}"))
        if binding.builtin is not None:
            return await binding.builtin(self, frame, agent, use, args)
        ctx = self.rt._context(self, frame, use["id"])
        try:
            result = await maybe_await(binding.handler(args, ctx))
        except (_RunFailed, _Superseded, asyncio.CancelledError):
            raise
        except Exception as exc:
            return self._tool_result(frame, use, error=f"{type(exc).__name__}: {exc}")
        return self._tool_result(frame, use, result=result)

    # -- approvals -------------------------------------------------------------------
    async def _requires(self, policy: ApprovalPolicy, args: Any, *, kind: str, target: str,
                        agent: AgentSpec) -> bool:
        if policy.kind == "never":
            return False
        if policy.kind == "always":
            return True
        predicate = self.rt._predicates.get(policy.value or "")
        if predicate is None:
            return True
        info = {"kind": kind, "target": target, "tenant": self.rt.tenant.to_wire(),
                "agent": agent.name}
        try:
            return bool(await maybe_await(predicate(jsonable(args), info)))
        except Exception:
            return True  # fail closed

    async def _gate(self, frame: Frame, agent: AgentSpec, use: dict[str, Any], *, kind: str,
                    target: str, payload: dict[str, Any], policy: ApprovalPolicy,
                    predicate_args: Any) -> dict[str, Any]:
        """Open a gate if the policy requires it; return the decision."""
        approval_id = f"ap-{self.id}-{use['id']}-{kind}"
        broker = self.rt._broker
        if approval_id in self.decided:
            return broker.decision(approval_id) or _APPROVED
        record = broker.get(approval_id)
        if record is None:
            if not await self._requires(policy, predicate_args, kind=kind, target=target,
                                        agent=agent):
                return _APPROVED
            self.resume_token = RESUME_PREFIX + self.id
            request = {"approvalId": approval_id, "runId": self.id, "threadId": self.thread_id,
                       "agent": agent.name, "kind": kind, "target": target,
                       "payload": jsonable(payload), "resumeToken": self.resume_token}
            broker.open(request)
            self.open_gate = approval_id
            self.emit("approval-required", frame, {
                "approvalId": approval_id, "kind": kind, "target": target,
                "payload": request["payload"], "resumeToken": self.resume_token})
            self.pause_seq = self.seq
            self._persist()
            if self.approver is not None:
                try:
                    answer = await maybe_await(self.approver(request))
                except (ValueError, TypeError) as exc:
                    raise _RunFailed(f"the approval policy failed on {approval_id}: {exc}",
                                     "approver", frame) from None
                except Exception as exc:
                    raise _RunFailed(f"the approval policy raised {type(exc).__name__}: {exc}",
                                     "approver", frame) from None
                if answer is not None:
                    try:
                        broker.resolve(approval_id, answer["outcome"], answer.get("feedback"),
                                       answer.get("partial"))
                    except RuntimeError:
                        pass  # someone answered first; their decision stands
        self.parked = self.open_gate = approval_id
        self.status = "paused"
        try:
            decision = await broker.wait(approval_id, self.rt.approval_timeout)
        finally:
            self.parked = None
        self.open_gate = None
        self.status = "running"
        self._claim()
        self.decided.append(approval_id)
        self.emit("approval-decision", frame, {
            "approvalId": approval_id, "outcome": decision["outcome"],
            "feedback": decision.get("feedback"), "partial": decision.get("partial")})
        return decision

    # -- built-in tools ----------------------------------------------------------------
    async def call_agent(self, frame: Frame, agent: AgentSpec, use: dict[str, Any],
                         args: dict[str, Any]) -> dict[str, Any]:
        """``call_agent(agent, prompt)``: run a routed agent on its own sub-thread."""
        target = args["agent"]
        if target not in agent.routes:
            return self._tool_result(frame, use, error=(
                f"agent {agent.name!r} cannot call {target!r}; its routes are "
                f"{list(agent.routes)}"))
        child = frame.child
        if child is None or child.parent_call != use["id"]:
            child = Frame(agent=target, depth=frame.depth + 1, thread=f"{frame.thread}/{target}",
                          prompt=args["prompt"], parent_call=use["id"])
            frame.child = child
        try:
            text = await self.run_agent(child)
        except _AgentLimit as exc:
            frame.child = None
            return self._tool_result(frame, use, error=str(exc))
        frame.child = None
        return self._tool_result(frame, use, result=text)

    async def store_plan(self, frame: Frame, agent: AgentSpec, use: dict[str, Any],
                         args: dict[str, Any]) -> dict[str, Any]:
        """``store_plan(plan?, plan_id?, body)``: validate and store a draft plan."""
        spec_name = args.get("plan") or (agent.plan.name if agent.plan else None)
        plans = self.rt.spec.plans_by_name
        if spec_name is None:
            return self._tool_result(frame, use, error=(
                f"agent {agent.name!r} has no plan type; pass plan= one of {sorted(plans)}"))
        if spec_name not in plans:
            return self._tool_result(frame, use, error=(
                f"unknown plan {spec_name!r}; declared plans: {sorted(plans)}"))
        try:
            body, actions = plans[spec_name].validate_body(args.get("body"))
            record = self.rt._plans.store(spec_name=spec_name, body=body, actions=actions,
                                          base_id=args.get("plan_id"), author=agent.name,
                                          run_id=self.id, thread_id=self.thread_id)
        except ValueError as exc:
            return self._tool_result(frame, use, error=str(exc))
        self.emit("plan-stored", frame, {"planId": record["id"], "plan": spec_name,
                                         "status": "draft", "actions": actions})
        return self._tool_result(frame, use, result={
            "planId": record["id"], "status": "draft", "version": record["version"],
            "actions": len(actions)})

    def _plan_status(self, frame: Frame, plan_id: str, status: str, note: Any = None) -> None:
        self.rt._plans.set_status(plan_id, status, note)
        self.emit("plan-status", frame, {"planId": plan_id, "status": status})

    async def execute_plan(self, frame: Frame, agent: AgentSpec, use: dict[str, Any],
                           args: dict[str, Any]) -> dict[str, Any]:
        """``execute_plan(plan_id)``: the plans gate, then the action dispatcher."""
        try:
            record = self.rt._plans.get(args["plan_id"])
        except PlanNotFoundError as exc:
            return self._tool_result(frame, use, error=str(exc))
        plan_id = record["id"]
        resuming_revision = frame.child is not None and frame.child.parent_call == use["id"]
        if not resuming_revision and record["status"] not in ("draft", "pending_approval"):
            return self._tool_result(frame, use, error=(
                f"plan {plan_id} is {record['status']}; only a draft plan can be executed"))
        policy = self.rt.spec.plan_policy(agent)
        approval_id = f"ap-{self.id}-{use['id']}-plan"
        needs = approval_id in self.decided or self.rt._broker.get(approval_id) is not None \
            or await self._requires(policy, record, kind="plan", target=plan_id, agent=agent)
        decision = _APPROVED
        if needs:
            if record["status"] == "draft" and not resuming_revision \
                    and approval_id not in self.decided:
                self._plan_status(frame, plan_id, "pending_approval")
            decision = await self._gate(
                frame, agent, use, kind="plan", target=plan_id,
                payload={"planId": plan_id, "plan": record["plan"], "actions": record["actions"],
                         "body": record["body"]},
                policy=ApprovalPolicy(kind="always"), predicate_args=record)
        outcome = decision["outcome"]
        feedback = decision.get("feedback")
        if outcome == "reject":
            if self.rt._plans.get(plan_id)["status"] != "rejected":
                self._plan_status(frame, plan_id, "rejected", {"feedback": feedback})
            return self._tool_result(frame, use, error=(
                f"plan {plan_id} was rejected by the reviewer"
                f"{': ' + str(feedback) if feedback else ''}. Do not execute or retry it."))
        if outcome == "revise":
            return await self._revise(frame, use, plan_id, decision)
        return await self._dispatch(frame, use, plan_id, decision)

    async def _revise(self, frame: Frame, use: dict[str, Any], plan_id: str,
                      decision: dict[str, Any]) -> dict[str, Any]:
        record = self.rt._plans.get(plan_id)
        feedback, partial = decision.get("feedback"), decision.get("partial")
        if record["status"] != "draft":
            self._plan_status(frame, plan_id, "draft", {"feedback": feedback,
                                                        "partial": partial})
        author = record.get("author")
        planner = next((a for a in self.rt.spec.agents
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
                await self.run_agent(child)
            except _AgentLimit:
                pass
            frame.child = None
            latest = self.rt._plans.get(record["baseId"])
            if latest["version"] > record["version"]:
                revised = latest["id"]
        return self._tool_result(frame, use, result={
            "planId": plan_id, "status": "revision_requested", "feedback": feedback,
            "partial": partial, "revisedPlanId": revised,
            "next": (f"call execute_plan(plan_id={revised!r}) to submit the revision"
                     if revised else "ask the planner for a revised plan")})

    async def _dispatch(self, frame: Frame, use: dict[str, Any], plan_id: str,
                        decision: dict[str, Any]) -> dict[str, Any]:
        if not self.rt._plans.claim_execution(plan_id, self.id):
            return self._tool_result(frame, use, error=(
                f"plan {plan_id} was already executed by another run; store a new version to "
                f"run it again"))
        record = self.rt._plans.get(plan_id)
        if record["status"] != "approved":
            self._plan_status(frame, plan_id, "approved")
        dispatcher = self.rt._dispatcher
        if dispatcher is None:
            return self._tool_result(frame, use, error=(
                f"plan {plan_id} is approved but no action_dispatcher is configured; pass "
                f"create_runtime(action_dispatcher=...)"))
        indexed = list(enumerate(record["actions"]))
        partial = decision.get("partial")
        if isinstance(partial, dict) and isinstance(partial.get("actions"), list):
            chosen = set(partial["actions"])
            indexed = [(i, a) for i, a in indexed if i in chosen]
        resolved: dict[str, dict[str, Any]] = {}
        try:
            for _, action in indexed:
                for ref in action.get("references") or []:
                    kind, ref_id = parse_envelope(ref)
                    resolved.setdefault(kind, {})[ref_id] = self.rt._refs.resolve(ref)
        except (LookupError, ValueError) as exc:
            self._plan_status(frame, plan_id, "failed", {"error": str(exc)})
            return self._tool_result(frame, use, error=f"plan {plan_id} failed: {exc}")
        self._plan_status(frame, plan_id, "executing")
        for i, action in indexed:
            self.emit("action-status", frame, {"planId": plan_id, "index": i,
                                               "kind": action["kind"], "status": "executing"})
        actions = [action for _, action in indexed]
        ctx = self.rt._context(self, frame, use["id"], extra={"resolved_refs": resolved,
                                                              "plan": record})
        try:
            outcome = await maybe_await(dispatcher(actions, ctx))
            problem = _dispatch_shape_problem(outcome)
        except (asyncio.CancelledError, _Superseded):
            raise
        except Exception as exc:
            problem = f"the action dispatcher raised {type(exc).__name__}: {exc}"
        if problem is not None:
            for i, action in indexed:
                self.emit("action-status", frame, {"planId": plan_id, "index": i,
                                                   "kind": action["kind"], "status": "failed"})
            self._plan_status(frame, plan_id, "failed", {"error": problem})
            raise _RunFailed(f"plan {plan_id} failed: {problem}", "dispatcher", frame)
        for i, action in indexed:
            self.emit("action-status", frame, {"planId": plan_id, "index": i,
                                               "kind": action["kind"], "status": "executed"})
        self._plan_status(frame, plan_id, "executed", jsonable(outcome))
        result = {"planId": plan_id, "status": "executed"}
        if outcome:
            result.update(jsonable(outcome))
        return self._tool_result(frame, use, result=result)


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
