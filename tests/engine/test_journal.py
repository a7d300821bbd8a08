"""SPEC §5.2: the run journal and ``runtime.subscribe`` (replay, then follow live)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flowai_nb as fa

from .conftest import Dispatcher, build_spec, collect, run

ROOT = Path(__file__).resolve().parents[2]


def sqlite_runtime(path, dispatcher=None) -> fa.Runtime:
    spec = build_spec(storage={"kv": {"kind": "sqlite", "config": {"path": str(path)}}})
    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher)


def talker(n: int, runs: int = 1) -> fa.Runtime:
    turns = [{"text": [f"w{i} " for i in range(n)]}] * runs
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_coordinator("talker", model="scripted", prompt="Talk.")],
        providers={"scripted": {"scripts": {"talker": turns}}},
    )
    return fa.create_runtime(spec, interpreter="scripted")


def test_any_number_of_subscribers_see_exactly_the_query_stream() -> None:
    rt = talker(5000)

    async def main():
        stream = rt.query("talk", "t1")
        stream.start()
        await asyncio.sleep(0)
        followers = [rt.subscribe(run_id=stream.run_id) for _ in range(3)]
        own, *others = await asyncio.gather(
            stream.collect(), *[_collect(f) for f in followers])
        late = await _collect(rt.subscribe(run_id=stream.run_id))  # after the end: replay
        tail = await _collect(rt.subscribe(run_id=stream.run_id, since_seq=5000))
        return own, others, late, tail

    own, others, late, tail = run(main())
    assert own[-1]["type"] == "run-finish" and len(own) == 5004
    for events in [*others, late]:
        assert events == own
    assert tail == own[5000:]
    assert "".join(e["delta"] for e in late if e["type"] == "text-delta") == \
        "".join(f"w{i} " for i in range(5000))


async def _collect(subscription) -> list[dict]:
    return [event async for event in subscription]


def test_a_subscriber_that_does_not_read_never_holds_the_run_up() -> None:
    rt = talker(20_000)

    async def main():
        stream = rt.query("talk", "t1")
        stream.start()
        await asyncio.sleep(0)
        idle = rt.subscribe(run_id=stream.run_id)
        events = await stream.collect()   # the run ends while `idle` has read nothing
        return events, await _collect(idle)

    events, caught_up = run(main())
    assert events[-1]["status"] == "completed"
    assert caught_up == events


def test_the_journal_is_in_the_store_in_order_and_gap_free(tmp_path) -> None:
    dispatcher = Dispatcher()
    rt = sqlite_runtime(tmp_path / "kv.db", dispatcher)
    events = run(collect(rt.query("restock", "t1"), answer=lambda e: ("approve",)))
    fresh = sqlite_runtime(tmp_path / "kv.db")  # another process's view
    replay = run(_collect(fresh.subscribe(run_id=events[0]["runId"])))
    assert replay == events
    assert [e["seq"] for e in replay] == list(range(len(events)))


def test_subscribe_validates_its_arguments() -> None:
    rt = talker(1)
    with pytest.raises(ValueError, match="since_seq needs run_id"):
        rt.subscribe(thread_id="t", since_seq=3)
    with pytest.raises(ValueError, match="since_seq must be a non-negative int; got -1"):
        rt.subscribe(run_id="r", since_seq=-1)
    with pytest.raises(ValueError, match="run_id must be a non-empty string"):
        rt.subscribe(run_id=7)
    with pytest.raises(ValueError, match="pass run_id or thread_id, not both"):
        rt.subscribe(run_id="r", thread_id="t")


def test_list_traces_refuses_a_filter_of_the_wrong_type_instead_of_matching_nothing() -> None:
    rt = talker(1)
    for bad in ({"thread_id": 5}, {"eval_run_id": ""}, {"test_case_id": b"c"}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be a non-empty string"):
            rt.list_traces(**bad)


def test_thread_and_all_run_subscriptions_pick_up_new_runs() -> None:
    rt = talker(3, runs=3)

    async def main():
        by_thread = rt.subscribe(thread_id="t1")
        everything = rt.subscribe()
        first = await rt.query("a", "t1").collect()
        await rt.query("b", "t2").collect()
        second = await rt.query("c", "t1").collect()
        assert first[-1]["status"] == second[-1]["status"] == "completed"
        got_thread = [await asyncio.wait_for(anext(by_thread), 5)
                      for _ in range(len(first) + len(second))]
        got_all = [await asyncio.wait_for(anext(everything), 5) for _ in range(3 * len(first))]
        await by_thread.aclose()
        return first + second, got_thread, got_all

    expected, got_thread, got_all = run(main())
    assert got_thread == expected
    assert {e["threadId"] for e in got_all} == {"t1", "t2"}
    assert len({e["runId"] for e in got_all}) == 3


CHILD = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, sys.argv[2])
    from tests.engine.test_journal import sqlite_runtime
    from tests.engine.conftest import Dispatcher

    async def main():
        rt = sqlite_runtime(sys.argv[1], Dispatcher())
        async for event in rt.query("restock", "t1"):
            if event["type"] == "approval-required":
                print(event["approvalId"], flush=True)
    asyncio.run(main())
""")


@pytest.mark.timeout(60)
def test_a_run_in_another_process_is_followed_live_through_the_store(tmp_path) -> None:
    db = tmp_path / "kv.db"
    sqlite_runtime(db)  # create the file
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(ROOT)],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        watcher = sqlite_runtime(db)

        async def follow():
            seen = []
            async for event in watcher.subscribe(thread_id="t1"):
                seen.append(event)
                if event["type"] == "approval-required":
                    await watcher.respond_to_approval(event["approvalId"], "approve")
                if event["type"] == "run-finish":
                    return seen

        seen = run(asyncio.wait_for(follow(), 45))
        child.wait(30)
    finally:
        child.kill()
    assert [e["seq"] for e in seen] == list(range(len(seen)))
    assert seen[-1]["status"] == "completed"
    assert json.loads(json.dumps(watcher.get_trace(seen[-1]["traceId"])["events"])) == seen
