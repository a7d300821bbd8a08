"""Test doubles for the Jupyter surface: a recording comm, SPEC §5 events, a fake runtime.

The fake runtime follows the engine contract (query -> async iterator of events,
respond_to_approval, pending_approvals) so the widgets and the handle are tested
without the engine; test_real_runs.py covers the real engine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that keeps every message the kernel would have sent."""

    sent: list[dict[str, Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:
        self.sent.append({"msg_type": msg_type, "data": data})

    def customs(self) -> list[dict[str, Any]]:
        """The custom (``widget.send``) messages, in order."""
        return [
            m["data"]["content"] for m in self.sent
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "custom"
        ]

    def updates(self) -> list[dict[str, Any]]:
        """The trait updates, in order."""
        return [
            m["data"]["state"] for m in self.sent
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "update"
        ]


def front_end_says(widget: Any, content: dict[str, Any]) -> None:
    """Deliver a custom message from the front end, as JupyterLab does."""
    widget.comm.handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )


def ev(type_: str, seq: int = 0, agent: str = "coordinator", **extra: Any) -> dict[str, Any]:
    """One SPEC §5 event."""
    return {"type": type_, "runId": "run-1", "threadId": "t1", "seq": seq, "ts": 1000 + seq,
            "agent": agent, **extra}


class FakeRuntime:
    """A runtime whose query plays: plan stored -> plan approval -> dispatch -> finish.

    ``respond_to_approval`` resolves the waiting run exactly like the engine;
    ``dispatched`` counts dispatcher calls, ``feedback`` records revise feedback.
    """

    def __init__(self) -> None:
        self.dispatched = 0
        self.feedback: list[str | None] = []
        self.responses: list[tuple[str, str, str | None]] = []
        self._waiting: dict[str, asyncio.Future[tuple[str, str | None]]] = {}
        self._requests: dict[str, dict[str, Any]] = {}

    def query(self, prompt: str, thread_id: str, resume: Any = None, *, approvals: Any = None):
        return self._play(prompt, thread_id, approvals)

    def pending_approvals(self) -> list[dict[str, Any]]:
        return list(self._requests.values())

    async def respond_to_approval(self, approval_id: str, outcome: str,
                                  feedback: str | None = None, partial: Any = None) -> None:
        if outcome not in ("approve", "reject", "revise"):
            raise ValueError(f"bad outcome {outcome!r}")
        future = self._waiting.pop(approval_id, None)
        if future is None:
            raise RuntimeError(f"unknown or already-resolved approval {approval_id!r}")
        self._requests.pop(approval_id, None)
        self.responses.append((approval_id, outcome, feedback))
        future.set_result((outcome, feedback))

    async def _play(self, prompt: str, thread_id: str, approvals: Any):
        seq = iter(range(10_000))
        actions = [{"kind": "refund", "payload": {"order": 42}, "references": {}}]
        yield ev("run-start", next(seq), prompt=prompt, entryAgent="coordinator")
        yield ev("agent-start", next(seq), role="coordinator", depth=0)
        version = 0
        while True:
            version += 1
            yield ev("plan-stored", next(seq), planId=f"p{version}", plan="refund_plan",
                     status="draft", actions=actions)
            approval_id = f"a{version}"
            request = ev("approval-required", next(seq), approvalId=approval_id, kind="plan",
                         target="refund_plan", payload={"actions": actions}, resumeToken="tok")
            self._requests[approval_id] = request
            future = asyncio.get_running_loop().create_future()
            self._waiting[approval_id] = future
            yield ev("plan-status", next(seq), planId=f"p{version}", status="pending_approval")
            yield request
            if approvals == "auto_approve":
                await self.respond_to_approval(approval_id, "approve")
            outcome, feedback = await future
            yield ev("approval-decision", next(seq), approvalId=approval_id, outcome=outcome,
                     feedback=feedback, partial=None)
            if outcome == "revise":
                self.feedback.append(feedback)
                yield ev("plan-status", next(seq), planId=f"p{version}", status="draft")
                continue
            break
        if outcome == "approve":
            yield ev("plan-status", next(seq), planId=f"p{version}", status="executing")
            self.dispatched += 1
            yield ev("action-status", next(seq), planId=f"p{version}", index=0, kind="refund",
                     status="executed")
            yield ev("plan-status", next(seq), planId=f"p{version}", status="executed")
        text = "refunded" if outcome == "approve" else "not refunded"
        yield ev("text-delta", next(seq), delta=text)
        yield ev("run-finish", next(seq), status="completed", text=text,
                 usage={"inputTokens": 3, "outputTokens": 4}, traceId="trace-1")
