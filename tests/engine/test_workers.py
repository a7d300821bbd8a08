"""Synchronous tool handlers run in worker threads (SPEC §16): off the loop, with the
caller's context variables, as many at once as are called, and a hung one never keeps
the process from exiting."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from flowai_nb.engine.workers import in_worker

BOUND_S = 60.0
REQUEST = contextvars.ContextVar("request", default="unset")


def test_a_handler_runs_off_the_loop_thread_with_the_callers_context() -> None:
    def handler(x: int) -> tuple[int, int, str]:
        return x * 2, threading.get_ident(), REQUEST.get()

    async def main() -> list[tuple[int, int, str]]:
        REQUEST.set("from the run")
        return [await in_worker(handler, n) for n in range(3)]

    loop_thread = threading.get_ident()  # asyncio.run runs the loop in this thread
    results = asyncio.run(main())
    assert [r[0] for r in results] == [0, 2, 4]
    assert all(r[1] != loop_thread for r in results)
    assert {r[2] for r in results} == {"from the run"}


def test_results_and_raises_come_back_whether_the_handler_is_quick_or_slow() -> None:
    def quick(value: object) -> object:
        return value

    def slow(value: object) -> object:
        time.sleep(0.02)
        return value

    def fails(kind: type[BaseException]) -> None:
        raise kind("boom")

    async def main() -> None:
        for fn in (quick, slow, quick, slow):
            assert await in_worker(fn, {"n": 1}) == {"n": 1}
        for kind in (ValueError, KeyboardInterrupt, asyncio.CancelledError, SystemExit):
            with pytest.raises(kind, match="boom"):
                await in_worker(fails, kind)

    asyncio.run(asyncio.wait_for(main(), BOUND_S))


def test_many_blocked_handlers_each_get_a_thread() -> None:
    """40 handlers that can only finish together: none waits for another's thread."""
    barrier = threading.Barrier(40, timeout=BOUND_S)

    def handler(i: int) -> int:
        barrier.wait()
        return i

    async def main() -> list[int]:
        return await asyncio.gather(*(in_worker(handler, i) for i in range(40)))

    assert asyncio.run(asyncio.wait_for(main(), BOUND_S)) == list(range(40))


def test_cancelling_the_caller_abandons_the_call_and_the_loop_goes_on() -> None:
    release = threading.Event()

    def handler() -> str:
        release.wait(BOUND_S)
        return "late"

    async def main() -> str:
        task = asyncio.ensure_future(in_worker(handler))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        return await in_worker(lambda: "next call")

    assert asyncio.run(asyncio.wait_for(main(), BOUND_S)) == "next call"


def test_a_hung_sync_tool_does_not_keep_the_process_from_exiting() -> None:
    script = textwrap.dedent("""
        import asyncio, threading
        import flowai_nb as fa

        def hangs(args, ctx):
            threading.Event().wait()  # forever: no timeout can stop a thread

        tool = fa.define_tool("hangs", "Never returns", {})(hangs)
        spec = fa.define_runtime(
            fa.define_tenant("t", "1"),
            agents=[fa.define_coordinator("a", model="scripted", prompt="p", tools=[tool])],
            providers={"scripted": {"scripts": {"a": [{"tool": "hangs"}, {"text": "gave up"}]}}})
        rt = fa.create_runtime(spec, interpreter="scripted")
        rt.tool_timeout = 0.2

        async def main():
            return await rt.query("go", "t1").collect()

        events = asyncio.run(main())
        result = next(e for e in events if e["type"] == "tool-result")
        print(events[-1]["type"], events[-1]["status"], "|", result["error"])
        rt.close()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=BOUND_S)
    assert done.returncode == 0, done.stderr
    assert "run-finish completed | " in done.stdout
    assert "did not finish within 0.2s" in done.stdout


@pytest.mark.parametrize("style", ["sync", "async"])
def test_a_handler_raising_timeouterror_is_its_own_error_not_the_tool_timeout(
        style: str) -> None:
    import flowai_nb as fa

    def sync_handler(args: dict, ctx: object) -> None:
        raise TimeoutError("the upstream API timed out")

    async def async_handler(args: dict, ctx: object) -> None:
        raise TimeoutError("the upstream API timed out")

    tool = fa.define_tool("fetch", "Calls an API", {})(
        sync_handler if style == "sync" else async_handler)
    spec = fa.define_runtime(
        fa.define_tenant("t", "1"),
        agents=[fa.define_coordinator("a", model="scripted", prompt="p", tools=[tool])],
        providers={"scripted": {"scripts": {"a": [{"tool": "fetch"}, {"text": "done"}]}}})
    rt = fa.create_runtime(spec, interpreter="scripted")
    rt.tool_timeout = 30
    try:
        events = asyncio.run(asyncio.wait_for(rt.query("go", "t1").collect(), BOUND_S))
    finally:
        rt.close()
    result = next(e for e in events if e["type"] == "tool-result")
    assert result["error"] == "TimeoutError: the upstream API timed out"
    assert events[-1]["status"] == "completed"


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork (POSIX)")
def test_a_forked_child_gets_workers_of_its_own() -> None:
    """The parent's idle workers do not exist in a forked child: its calls still run."""
    import os

    asyncio.run(in_worker(lambda: None))  # the parent now has an idle worker
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what its call returned, then leave at once
        try:
            answer = asyncio.run(asyncio.wait_for(in_worker(lambda: "child ok"), 10))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = f"child failed: {type(exc).__name__}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer == "child ok"


def test_past_the_thread_cap_calls_wait_and_given_up_calls_never_start(monkeypatch) -> None:
    from flowai_nb.engine import workers

    monkeypatch.setattr(workers, "MAX_WORKERS", workers._threads + 2)  # two more at most
    busy = workers._idle + 2  # holding this many calls leaves no thread free
    release = threading.Event()
    started: list[str] = []

    def hold(name: str) -> str:
        started.append(name)
        release.wait(BOUND_S)
        return name

    async def main() -> list[str]:
        held = [asyncio.ensure_future(in_worker(hold, f"held-{i}")) for i in range(busy)]
        while len(started) < busy:
            await asyncio.sleep(0.01)
        with pytest.raises(workers.WorkerTimeout):  # no thread free: it waits, gives up
            await in_worker(hold, "gave up", timeout=0.2)
        queued = asyncio.ensure_future(in_worker(hold, "queued"))
        await asyncio.sleep(0.05)
        release.set()
        return [*await asyncio.gather(*held), await queued]

    assert asyncio.run(asyncio.wait_for(main(), BOUND_S)) == [
        *(f"held-{i}" for i in range(busy)), "queued"]
    assert "gave up" not in started and "queued" in started
