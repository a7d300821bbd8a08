"""A stand-in runtime that replays hand-written event lists (engine contract shape).

The prompt of a query picks its behaviour from ``behaviours``: a list of
``("tool", name, args)``, ``("plan", plan_id, actions)``, ``("text", str)``,
``("sleep", secs)``, ``("fail", message)`` steps.
"""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace
from typing import Any

from flowai_nb.authoring.tenant import define_tenant
from flowai_nb.interpreters.base import TextDelta


class FakeStream:
    def __init__(self, rt: FakeRuntime, prompt: str, thread_id: str, agent: str, kw: dict):
        self.rt, self.prompt, self.thread_id, self.agent, self.kw = rt, prompt, thread_id, agent, kw
        self.run_id = f"run{next(rt.ids)}"
        self.cancelled = False
        self.status = None

    def cancel(self) -> None:
        self.cancelled = True
        self.rt.cancelled.append(self.thread_id)

    def __aiter__(self):  # one iterator per stream, like the engine's RunStream
        if not hasattr(self, "_iterator"):
            self._iterator = self._events()
        return self._iterator

    async def _events(self):
        self.rt.active += 1
        self.rt.max_active = max(self.rt.max_active, self.rt.active)
        try:
            seq = itertools.count()
            base = {"runId": self.run_id, "threadId": self.thread_id, "agent": self.agent}

            def ev(kind: str, **data: Any) -> dict[str, Any]:
                return {"type": kind, **base, "seq": next(seq), "ts": 0, **data}

            yield ev("run-start", prompt=self.prompt, entryAgent=self.agent)
            yield ev("agent-start", role="coordinator", depth=0)
            text, status = "", "completed"
            for n, step in enumerate(self.rt.behaviours.get(self.prompt, [])):
                if step[0] == "tool":
                    yield ev("tool-call", callId=f"c{n}", tool=step[1], args=step[2])
                    yield ev("tool-result", callId=f"c{n}", tool=step[1], result="ok")
                elif step[0] == "agent":
                    yield {**ev("agent-start", role="specialist", depth=1), "agent": step[1]}
                elif step[0] == "plan":
                    yield ev("plan-stored", planId=step[1], plan="p", status="draft",
                             actions=step[2])
                elif step[0] == "text":
                    text += step[1]
                    yield ev("text-delta", delta=step[1])
                elif step[0] == "sleep":
                    await asyncio.sleep(step[1])
                elif step[0] == "fail":
                    yield ev("error", message=step[1], where="interpreter")
                    status = "failed"
                    break
            usage = {"inputTokens": 10, "outputTokens": 5, "costUsd": 0.001}
            yield ev("usage", **usage)
            trace_id = f"trace-{self.run_id}"
            self.rt.traces.append({"traceId": trace_id, "threadId": self.thread_id,
                                   **self.kw.get("_trace_tags", {})})
            yield ev("run-finish", status=status, text=text, usage=usage, traceId=trace_id)
        finally:
            self.rt.active -= 1


class FakeInterpreter:
    def __init__(self, answers: list[Any]):
        self.answers = list(answers)
        self.requests: list[Any] = []

    async def turn(self, request):
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else "yes"
        if isinstance(answer, Exception):
            raise answer
        yield TextDelta(answer)


class FakeRuntime:
    def __init__(self, behaviours: dict[str, list], *, judge: list[Any] | None = None,
                 agents: list[tuple[str, str]] | None = None):
        self.behaviours = behaviours
        self.tenant = define_tenant("acme", "1")
        agents = agents or [("boss", "coordinator"), ("plan", "planner"), ("sales", "specialist")]
        self.spec = SimpleNamespace(agents=[SimpleNamespace(name=n, role=r, model=SimpleNamespace(
            id="m")) for n, r in agents])
        self.interpreter = FakeInterpreter(judge or [])
        self.ids = itertools.count()
        self.calls: list[dict[str, Any]] = []
        self.traces: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self.active = self.max_active = 0

    def _stream(self, entry, prompt, thread_id, approvals, options):
        tags = options.trace_tags() if options is not None else None
        self.calls.append({"entry": entry, "prompt": prompt, "thread": thread_id,
                           "approvals": approvals, "tags": tags})
        return FakeStream(self, prompt, thread_id, "boss" if entry == "query" else entry,
                          {"_trace_tags": tags or {}})

    def query(self, prompt, thread_id, resume=None, *, approvals=None, options=None):
        return self._stream("query", prompt, thread_id, approvals, options)

    def run_specialist(self, name, prompt, thread_id=None, *, approvals=None, options=None):
        return self._stream(name, prompt, thread_id, approvals, options)

    def run_agent(self, name, prompt, thread_id=None, *, approvals=None, options=None):
        return self._stream(name, prompt, thread_id, approvals, options)

    def list_traces(self, eval_run_id=None, test_case_id=None, thread_id=None):
        return [t for t in self.traces
                if (eval_run_id is None or t.get("evalRunId") == eval_run_id)
                and (test_case_id is None or t.get("testCaseId") == test_case_id)
                and (thread_id is None or t["threadId"] == thread_id)]
