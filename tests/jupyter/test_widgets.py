"""Widgets fed with synthetic events: readable headless forms, live updates."""

from __future__ import annotations

import asyncio

import pytest

from flowai_nb.jupyter import ApprovalCard, DataView, EvalView, PlanView, RunView, TraceViewer
from flowai_nb.jupyter._assets import asset_path
from flowai_nb.jupyter._events import EventLog, PlanState

from .fakes import FakeRuntime, ev

RUN = [
    ev("run-start", 0, prompt="refund <b>42</b>", entryAgent="coordinator"),
    ev("agent-start", 1, role="coordinator", depth=0),
    ev("text-delta", 2, delta="Let me "),
    ev("text-delta", 3, delta="ask."),
    ev("tool-call", 4, callId="c1", tool="call_agent", args={"agent": "planner", "prompt": "p"}),
    ev("agent-start", 5, agent="planner", parentId="c1", role="planner", depth=1),
    ev("text-delta", 6, agent="planner", parentId="c1", delta="planning"),
    ev("tool-result", 7, callId="c1", tool="call_agent", result="planned"),
    ev("tool-call", 8, callId="c2", tool="lookup", args={"id": 1}),
    ev("tool-result", 9, callId="c2", tool="lookup", error="no such id"),
    ev("error", 10, message="hook failed", where="event_hooks"),
    ev("run-finish", 11, status="completed", text="Let me ask.", traceId="tr1",
       usage={"inputTokens": 5, "outputTokens": 7}),
]


def test_every_widget_has_a_stable_readable_headless_form(fake_runtime: FakeRuntime) -> None:
    def build():
        return [
            RunView.from_events(RUN),
            PlanView(plan="refund_plan", status="draft", actions=[{"kind": "refund"}]),
            ApprovalCard(fake_runtime_request(), runtime=fake_runtime),
            TraceViewer({"traceId": "tr1", "status": "completed", "events": RUN, "spans": []}),
        ]

    for widget, twin in zip(build(), build(), strict=True):
        bundle = widget._repr_mimebundle_()
        assert bundle["text/plain"] == repr(widget) == repr(twin)
        assert bundle["text/html"] == twin._repr_mimebundle_()["text/html"]
        assert "0x" not in bundle["text/plain"] and type(widget).__name__ in repr(widget)
        assert bundle["text/html"].startswith("<div class='flowai")
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id


def fake_runtime_request() -> dict:
    return ev("approval-required", 3, approvalId="a1", kind="tool", target="send_email",
              payload={"to": "ceo@example.com", "body": "<script>x</script>"}, resumeToken="t")


def test_run_view_from_events_shows_text_tools_nesting_and_errors() -> None:
    view = RunView.from_events(RUN)
    assert repr(view) == "RunView(status='completed', agent='coordinator', tool_calls=2)"
    assert (view.status, view.text, view.prompt) == ("completed", "Let me ask.", "refund <b>42</b>")
    html = view._repr_html()
    assert "refund &lt;b&gt;42&lt;/b&gt;" in html and "<b>42</b>" not in html
    assert "error: no such id" in html and "hook failed" in html
    kinds = [(e["type"], e.get("delta")) for e in view.events if "delta" in e]
    assert kinds == [("text-delta", "Let me ask."), ("text-delta", "planning")]
    summary = view.state.summary()
    assert "coordinator: lookup({\"id\": 1}) -> error: no such id" in summary
    assert "usage: 5 input / 7 output tokens" in summary


def test_event_log_merges_only_adjacent_deltas_of_the_same_agent() -> None:
    log = EventLog()
    for event in RUN[:8]:
        log.add(event)
    types = [e["type"] for e in log.events()]
    assert types == ["run-start", "agent-start", "text-delta", "tool-call", "agent-start",
                     "text-delta", "tool-result"]
    assert log.events()[2]["count"] == 2


def test_plan_view_follows_plan_and_action_status(recording_comms) -> None:
    info = PlanState("p1", "refund_plan", "pending_approval",
                    [{"kind": "refund", "payload": {"order": 42}}, {"kind": "notify"}])
    view = PlanView.from_info(info)
    assert view.action_statuses == ["pending_approval", "pending_approval"]
    sent_before = len(view.comm.sent)
    info.status = "executing"
    info.action_statuses[0] = "executed"
    view.update(info)
    assert view.action_statuses == ["executed", "executing"]
    assert len(view.comm.sent) == sent_before + 1  # one message per update
    assert repr(view) == "PlanView(plan='refund_plan', status='executing', actions=2)"
    assert "<code>{&quot;order&quot;: 42}</code>" in view._repr_html()


def test_approval_card_answers_through_the_runtime(fake_runtime: FakeRuntime) -> None:
    async def main() -> ApprovalCard:
        stream = fake_runtime.query("refund", "t1")
        async for event in stream:
            if event["type"] == "approval-required":
                break
        card = ApprovalCard(fake_runtime.pending_approvals()[0], runtime=fake_runtime)
        with pytest.raises(ValueError, match="one of"):
            await card.respond("maybe")
        await card.respond("reject", "too big")
        return card

    card = asyncio.run(main())
    assert fake_runtime.responses == [("a1", "reject", "too big")]
    assert repr(card) == "ApprovalCard(kind='plan', target='refund_plan', decision='reject')"
    static = card._repr_html()
    assert "Rejected · plan" in static and "Approval needed" not in static
    assert "<b>feedback:</b> too big" in static
    assert "<b>decided by:</b> code (respond)" in static


def test_approval_card_without_runtime_says_how_to_fix_it() -> None:
    card = ApprovalCard(fake_runtime_request())
    with pytest.raises(RuntimeError, match="runtime=rt"):
        asyncio.run(card.respond("approve"))
    assert "&lt;script&gt;" in card._repr_html()
    with pytest.raises(ValueError, match="approvalId"):
        ApprovalCard({"kind": "tool"})


def test_trace_viewer_merges_deltas_and_reports_unknown_ids() -> None:
    trace = {"traceId": "tr1", "status": "completed", "events": RUN,
             "spans": [{"spanId": "s1", "kind": "agent", "name": "coordinator", "start": 0,
                        "end": 9, "status": "completed"},
                       {"spanId": "s2", "parentId": "s1", "kind": "tool", "name": "lookup",
                        "start": 2, "end": 3, "status": "failed"}]}
    viewer = TraceViewer(trace)
    assert repr(viewer) == "TraceViewer(status='completed', spans=2, events=11)"
    assert "&nbsp;&nbsp;tool <code>lookup</code>" in viewer._repr_html()

    class Store:
        def get_trace(self, trace_id):
            return None

        def list_traces(self):
            return [{"traceId": "tr0"}]

    with pytest.raises(LookupError, match=r"'nope'.*tr0"):
        TraceViewer.from_runtime(Store(), "nope")


@pytest.mark.parametrize("widget", [RunView, PlanView, ApprovalCard, TraceViewer, DataView,
                                    EvalView])
def test_widget_front_end_is_packaged(widget) -> None:
    esm = widget._esm
    assert "function h(" in esm and "export default { render }" in esm
    assert widget._css.startswith(asset_path("flowai.css").read_text())
