"""RunHandle: background runs on the loop, approvals by click, coalesced traffic."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from flowai_nb.jupyter import RunHandle, run, start

from .fakes import FakeRuntime, ev, front_end_says


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    """Let the loop run until ``predicate()`` holds (test helper only)."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def _joined(messages: list[dict[str, Any]]) -> str:
    return "".join(
        e["delta"] for m in messages for e in m["events"] if e["type"] == "text-delta"
    )


def test_start_returns_at_once_and_await_waits(fake_runtime: FakeRuntime) -> None:
    async def main() -> None:
        handle = start(fake_runtime.query("refund 42", "t1", approvals="auto_approve"),
                       runtime=fake_runtime)
        assert handle.status == "starting" and not handle.done
        assert await handle is handle
        assert handle.status == "completed" and handle.text == "refunded"
        assert fake_runtime.dispatched == 1

    asyncio.run(main())


def test_click_approve_on_the_card_resumes_the_run(fake_runtime: FakeRuntime) -> None:
    async def main() -> RunHandle:
        handle = run(fake_runtime, "refund 42")
        await _until(lambda: handle.approvals)
        assert handle.status == "waiting for approval" and fake_runtime.dispatched == 0
        card = handle.approvals[0]
        assert (card.kind, card.target, card.status) == ("plan", "refund_plan", "pending")
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": ""})
        await handle
        return handle

    handle = asyncio.run(main())
    card = handle.approvals[0]
    assert fake_runtime.dispatched == 1
    assert fake_runtime.responses == [("a1", "approve", None)]
    assert (card.status, card.outcome) == ("decided", "approve")
    assert handle.plans[0].status == "executed"
    assert handle.plans[0].action_statuses == ["executed"]
    assert "refund_plan: approve" in handle.summary()


def test_revise_sends_feedback_and_a_second_click_is_ignored(fake_runtime: FakeRuntime) -> None:
    async def main() -> RunHandle:
        handle = run(fake_runtime, "refund 42")
        await _until(lambda: handle.approvals)
        first = handle.approvals[0]
        front_end_says(first, {"type": "decision", "outcome": "revise", "feedback": "smaller"})
        front_end_says(first, {"type": "decision", "outcome": "approve", "feedback": ""})
        await _until(lambda: len(handle.approvals) == 2)
        await handle.respond("approve")
        await handle
        return handle

    handle = asyncio.run(main())
    assert fake_runtime.feedback == ["smaller"]
    assert [r[1] for r in fake_runtime.responses] == ["revise", "approve"]
    assert [(c.outcome, c.feedback) for c in handle.approvals] == [
        ("revise", "smaller"), ("approve", "")]
    assert fake_runtime.dispatched == 1
    assert "approvals (2):\n  plan refund_plan: revise (feedback: smaller)" in handle.summary()


def test_a_refused_answer_is_shown_on_the_card(fake_runtime: FakeRuntime) -> None:
    async def main() -> None:
        handle = run(fake_runtime, "refund 42")
        await _until(lambda: handle.approvals)
        card = handle.approvals[0]
        await fake_runtime.respond_to_approval("a1", "reject", "no")  # answered elsewhere
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": ""})
        await _until(lambda: card.error)
        assert "already-resolved" in card.error
        await handle
        assert (card.status, card.outcome) == ("decided", "reject")

    asyncio.run(main())


def test_headless_policy_is_passed_through(fake_runtime: FakeRuntime) -> None:
    async def main() -> RunHandle:
        return await run(fake_runtime, "refund 42", approvals="auto_approve")

    handle = asyncio.run(main())
    assert fake_runtime.dispatched == 1
    assert handle.approvals[0].outcome == "approve"


def test_respond_after_the_run_ended_is_an_error(fake_runtime: FakeRuntime) -> None:
    async def main() -> None:
        handle = await run(fake_runtime, "refund 42", approvals="auto_approve")
        with pytest.raises(RuntimeError, match="without an open approval"):
            await handle.respond("approve")

    asyncio.run(main())


async def _deltas(n: int, per_ms: int = 10):
    yield ev("run-start", 0, prompt="count", entryAgent="coordinator")
    for i in range(n):
        yield ev("text-delta", i + 1, delta=f"w{i} ")
        if i % per_ms == 0:
            await asyncio.sleep(0.001)
    yield ev("run-finish", n + 1, status="completed", text="".join(f"w{i} " for i in range(n)))


def test_10000_deltas_cost_few_messages_and_the_text_is_exact(recording_comms) -> None:
    expected = "".join(f"w{i} " for i in range(10_000))

    async def main() -> tuple[RunHandle, float]:
        loop = asyncio.get_running_loop()
        handle = start(_deltas(10_000))
        began = loop.time()
        await handle
        return handle, loop.time() - began

    handle, elapsed = asyncio.run(main())
    comm = handle.view.comm
    batches = [m for m in comm.customs() if m["type"] == "batch"]
    assert [b["seq"] for b in batches] == list(range(len(batches)))
    # one batch per 50 ms at most (+ the final flush), whatever the delta rate
    assert len(batches) <= elapsed / RunHandle.flush_interval + 2
    assert len(comm.sent) <= len(batches) + 3  # + comm_open and one final trait update
    assert _joined(batches) == expected
    assert handle.view.text == expected == handle.text
    assert handle.view.status == "completed"
    assert len(handle.view.events) == 3  # run-start, one merged delta, run-finish


def test_a_late_front_end_gets_a_snapshot_then_the_next_batches() -> None:
    async def main() -> tuple[RunHandle, list[dict[str, Any]]]:
        handle = start(_deltas(3000))
        await _until(lambda: handle.view.messages_sent >= 2)
        front_end_says(handle.view, {"type": "sync"})
        await handle
        return handle, handle.view.comm.customs()

    handle, messages = asyncio.run(main())
    snapshot_at = next(i for i, m in enumerate(messages) if m["type"] == "snapshot")
    snapshot = messages[snapshot_at]
    later = [m for m in messages[snapshot_at + 1:] if m["type"] == "batch"]
    assert later and later[0]["seq"] == snapshot["seq"] + 1
    assert _joined([snapshot, *later]) == handle.text


def test_a_failing_stream_is_shown_in_the_widget_and_raised_by_await() -> None:
    async def broken():
        yield ev("run-start", 0, prompt="x", entryAgent="coordinator")
        raise ConnectionError("model went away")

    async def main() -> RunHandle:
        handle = start(broken())
        with pytest.raises(ConnectionError):
            await handle
        return handle

    handle = asyncio.run(main())
    assert handle.status == "failed"
    assert handle.view.error == "ConnectionError: model went away"
    assert "ConnectionError: model went away" in handle.summary()


def test_a_stream_that_stops_without_run_finish_is_reported() -> None:
    handle = start([ev("run-start", 0, prompt="x", entryAgent="coordinator")])
    assert handle.status == "failed"
    assert "without a run-finish" in handle.view.error


def test_the_stop_button_cancels_the_stream() -> None:
    class Stream:
        def __init__(self) -> None:
            self.stop = asyncio.Event()

        def cancel(self) -> None:
            self.stop.set()

        async def __aiter__(self):
            yield ev("run-start", 0, prompt="x", entryAgent="coordinator")
            await self.stop.wait()
            yield ev("run-finish", 1, status="cancelled", text="")

    async def main() -> RunHandle:
        handle = start(Stream())
        await _until(lambda: handle.view.messages_sent)
        front_end_says(handle.view, {"type": "cancel"})
        return await handle

    assert asyncio.run(main()).status == "cancelled"


def test_an_unreferenced_run_is_not_garbage_collected() -> None:
    seen: list[str] = []

    async def slow():
        yield ev("run-start", 0, prompt="x", entryAgent="coordinator")
        await asyncio.sleep(0.05)
        seen.append("finished")
        yield ev("run-finish", 1, status="completed", text="")

    async def main() -> None:
        start(slow())
        gc.collect()
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert seen == ["finished"]


def test_without_a_running_loop_start_consumes_the_run(fake_runtime: FakeRuntime) -> None:
    handle = run(fake_runtime, "refund 42", approvals="auto_approve")
    assert handle.done and handle.status == "completed"
    assert fake_runtime.dispatched == 1


def test_run_rejects_an_empty_prompt(fake_runtime: FakeRuntime) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        run(fake_runtime, "  ")


def test_start_answers_approvals_through_the_streams_runtime(fake_runtime: FakeRuntime) -> None:
    class Stream:
        runtime = fake_runtime

        def __init__(self) -> None:
            self._events = fake_runtime.query("refund 42", "t1")

        def __aiter__(self):
            return self._events.__aiter__()

    async def main() -> RunHandle:
        handle = start(Stream())
        await handle.respond("approve")
        return await handle

    assert asyncio.run(main()).status == "completed"
    assert fake_runtime.dispatched == 1
