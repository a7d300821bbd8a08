"""Durable approval round trips: pause at a gate, persist, answer, resume from the store.

flowai_nb, two gates: (plan gate) an executor run calls ``execute_plan`` on a draft
plan a planner stored earlier in the same thread; the plans gate pauses the run (its
state persisted in the ``kv`` store) and the consumer stops following it there
(``async with`` ends the stream: the run stays paused, its task and lease here end,
as a script that leaves the answer to someone else does); a second runtime
over the same store answers with ``respond_to_approval(..., "approve")`` and resumes
the run from what it reads back, which claims, approves and dispatches the plan (its
status history written as it goes) and finishes after the model's last turn. (tool
gate) the same with ``Runtime.call_tool`` of a tool whose policy is ``always``: one
gated call as a run of its own, no model turn, the way MCP clients call tools, and
the closest match to the peer's graph. LangGraph: a graph whose gate
node calls ``interrupt()``; a second graph on its own checkpointer connection
resumes it with ``Command(resume="approve")``. Both sides use the same
durability: on SQLite, WAL with ``synchronous=NORMAL`` (the flowai_nb store's
setting); on PostgreSQL, a throwaway server with fsync on and
``synchronous_commit=on`` (started like the tests' server; its rows are
skipped with a message when the binaries are missing), where the cost of one
durable commit is timed in the same run, and a round trip is also given in
commits. A last contender replays only the store calls of one tool-gate round
trip (recorded from a real one) with no engine around them: the ceiling of the
tool-gate rows on this machine. SPEC §17 bars: at least 500 round trips/s, >= 10x
LangGraph on SQLite, <= 2.5 commits and >= 3x PostgresSaver on PostgreSQL. Usage::

    python bench/bench_approvals.py [--rounds 5] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from _harness import PEER_HINT, Contender, Row, interleave, print_table, size
from pydantic import BaseModel

import flowai_nb as fa

BAR = 500.0
SQLITE_BAR = 10.0
PG_BAR = 3.0
PG_COMMITS_BAR = 2.5
FLOOR_WORKLOAD = "its store calls alone, no engine"
BODY = {"actions": [{"kind": "restock", "sku": "A", "units": 10}]}


class Restock(BaseModel):
    """Order more units of one product."""

    kind: Literal["restock"] = "restock"
    sku: str
    units: int


class RestockPlan(BaseModel):
    """A list of restock orders."""

    actions: list[fa.TaggedUnion(Restock)]


async def _round_trip(start: Callable[[], Any], resumer: Any, thread: str) -> None:
    """Run ``start()`` until its approval gate and stop following it there (the run stays
    paused in the store, its task here ends); answer and resume it from the store with
    ``resumer``, a second runtime that has nothing of the run in memory."""
    gate = None
    async with start() as stream:
        async for event in stream:
            if event["type"] == "approval-required":
                gate = event  # paused and persisted: this consumer walks away here
                break
    if gate is None:
        raise RuntimeError(f"the run in {thread} did not pause")
    await resumer.respond_to_approval(gate["approvalId"], "approve")
    stream = resumer.query(None, thread, resume=gate["resumeToken"])
    await stream.collect()
    if stream.status != "completed":
        raise RuntimeError(f"the run in {thread} ended {stream.status}")


def tool_gate_contender(kind: str, where: str) -> tuple[Contender, list[Any]]:
    """flowai_nb: ``call_tool`` of a gated tool pauses in one runtime; a second runtime over
    the same store answers and resumes it from the store, which runs the tool."""
    calls: list[dict[str, Any]] = []

    @fa.define_tool("restock", "Order more units of one product.", {"sku": str, "units": int},
                    approval="always")
    def restock(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
        calls.append(args)
        return {"entitiesAffected": 1}

    spec = fa.define_runtime(
        fa.define_tenant("bench-tools", "1"),
        agents=[fa.define_specialist("operator", model="scripted", prompt="Operate.",
                                     tools=[restock])],
        storage_factories=_storage(kind, where),
    )
    rt = fa.create_runtime(spec, interpreter="scripted")
    resumer = fa.create_runtime(spec, interpreter="scripted")
    ids = itertools.count()

    async def run(n: int) -> None:
        before = len(calls)
        for _ in range(n):
            thread = f"call-{next(ids)}"
            await _round_trip(lambda thread=thread: rt.call_tool(
                "restock", {"sku": "A", "units": 10}, thread_id=thread), resumer, thread)
        if len(calls) - before != n:
            raise RuntimeError(f"{n} round trips ran the tool {len(calls) - before} times")

    return Contender("flowai_nb tool gate", run), [rt, resumer]


_STORE_CALLS = ("write", "read", "get", "get_many", "add", "put", "delete", "items",
                "items_after")


@contextlib.contextmanager
def _recording(store_type: type) -> Iterator[list[tuple[str, list[Any], dict[str, Any]]]]:
    """Record every call made to ``store_type``'s methods (name, args, kwargs) meanwhile."""
    calls: list[tuple[str, list[Any], dict[str, Any]]] = []
    originals = {name: store_type.__dict__[name] for name in _STORE_CALLS
                 if name in store_type.__dict__}

    def recorder(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def record(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append((name, [list(a) if name == "write" else a for a in args], kwargs))
            return method(self, *args, **kwargs)
        return record

    for name, method in originals.items():
        setattr(store_type, name, recorder(name, method))
    try:
        yield calls
    finally:
        for name, method in originals.items():
            setattr(store_type, name, method)


def store_floor_contender(kind: str, where: str, tool: Contender,
                          runtimes: list[Any]) -> Contender:
    """The store calls alone of one tool-gate round trip, replayed with no engine: the
    same keys (fresh ids each time), values, transactions and reads, on a store of the
    same kind: the part of a round trip that is the store's, measured on this machine."""
    from flowai_nb.storage.postgres import PostgresStore
    from flowai_nb.storage.sqlite import SqliteStore

    store_type = SqliteStore if kind == "sqlite" else PostgresStore
    recorded: list[tuple[str, list[Any], dict[str, Any]]] = []
    store = store_type(where)
    runtimes.append(store)
    ids = itertools.count()
    units: list[str] = []

    async def prepare(n: int) -> None:
        if not recorded:
            with _recording(store_type) as calls:
                await tool.run(1)
            recorded.extend(calls)
        text = json.dumps(recorded)
        for _ in range(n):  # every unit on its own run, call and thread ids
            unit = next(ids)
            units.append(re.sub(r"\b(run|call)-([0-9a-f]{12})\b",
                                lambda m, unit=unit: f"{m[1]}-{m[2]}f{unit}", text))

    async def run(n: int) -> None:
        for _ in range(n):
            for name, args, kwargs in json.loads(units.pop()):
                if name == "write":
                    args = [[tuple(op) for op in args[0]]]
                if getattr(store, name)(*args, **kwargs) is False:
                    raise RuntimeError(f"the replayed {name} of {args[0]!r} lost its guard")

    return Contender("its store calls alone", run, prepare)


def _script(*turns: dict[str, Any]) -> str:
    return json.dumps({"script": list(turns)})


def _storage(kind: str, where: str) -> dict[str, Any]:
    if kind == "sqlite":
        return {"kv": {"kind": "sqlite", "config": {"path": where}}}
    return {"kv": {"kind": "postgres", "config": {"url": where}}}


def flowai_contender(kind: str, where: str) -> tuple[Contender, list[Any]]:
    """flowai_nb: a plan gate; the run pauses in one runtime, and a second runtime over
    the same store (nothing in memory: it reads the paused run back) answers and resumes."""
    plan = fa.define_plan("restock", RestockPlan)
    spec = fa.define_runtime(
        fa.define_tenant("bench", "1"),
        agents=[fa.define_planner("planner", model="scripted", prompt="Plan.", plan=plan),
                fa.define_executor("executor", model="scripted", prompt="Execute.", plan=plan)],
        storage_factories=_storage(kind, where),
    )
    dispatched: list[int] = []

    def dispatch(actions: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
        dispatched.append(len(actions))
        return {"entitiesAffected": len(actions)}

    rt = fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatch)
    resumer = fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatch)
    ids = itertools.count()
    ready: list[str] = []

    async def prepare(n: int) -> None:
        for _ in range(n):
            plan_id = f"p{next(ids)}"
            stream = rt.run_agent("planner", _script(
                {"tool": "store_plan", "args": {"plan_id": plan_id, "body": BODY}},
                {"text": "Stored."}), thread_id=f"plan-{plan_id}")
            await stream.collect()
            if stream.status != "completed":
                raise RuntimeError(f"storing plan {plan_id} failed: {stream.status}")
            ready.append(plan_id)

    async def run(n: int) -> None:
        before = len(dispatched)
        for _ in range(n):
            plan_id = ready.pop()
            await _round_trip(lambda plan_id=plan_id: rt.run_agent("executor", _script(
                {"tool": "execute_plan", "args": {"plan_id": plan_id}},
                {"text": "Executed."}), thread_id=f"plan-{plan_id}"), resumer, f"plan-{plan_id}")
        if len(dispatched) - before != n:
            raise RuntimeError(f"{n} round trips dispatched {len(dispatched) - before} plans")

    return Contender("flowai_nb plan gate", run, prepare), [rt, resumer]


def _graph(saver: Any) -> Any:
    from typing import TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    class State(TypedDict, total=False):
        plan_id: str
        outcome: str
        dispatched: int

    def gate(state: State) -> dict[str, Any]:
        return {"outcome": interrupt({"planId": state["plan_id"], "plan": "restock",
                                      "actions": BODY["actions"]})}

    def dispatch(state: State) -> dict[str, Any]:
        return {"dispatched": len(BODY["actions"]) if state["outcome"] == "approve" else 0}

    builder = StateGraph(State)
    builder.add_node("gate", gate)
    builder.add_node("dispatch", dispatch)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", "dispatch")
    return builder.compile(checkpointer=saver)


def langgraph_contender(name: str, savers: tuple[Any, Any]) -> Contender:
    """LangGraph: ``interrupt()`` in a gate node; one graph pauses, a second graph on its
    own checkpointer connection resumes with ``Command(resume=...)`` from the store."""
    from langgraph.types import Command

    first, second = _graph(savers[0]), _graph(savers[1])
    ids = itertools.count()

    async def run(n: int) -> None:
        for _ in range(n):
            config = {"configurable": {"thread_id": f"t{next(ids)}"}}
            paused = first.invoke({"plan_id": "p"}, config)
            if "__interrupt__" not in paused:
                raise RuntimeError(f"the LangGraph run did not pause: {paused!r}")
            done = second.invoke(Command(resume="approve"), config)
            if done.get("dispatched") != 1:
                raise RuntimeError(f"the LangGraph run did not dispatch: {done!r}")

    return Contender(name, run)


def _sqlite_conn(path: Path) -> Any:
    """A connection with the flowai_nb SQLite store's durability: WAL, synchronous=NORMAL."""
    import sqlite3

    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _ours(kind: str, where: str) -> tuple[list[Contender], Contender, list[Any]]:
    """Both flowai_nb gates on one store (plan gate first), and the tool gate's store
    calls replayed alone."""
    plan, closers = flowai_contender(kind, where)
    tool, more = tool_gate_contender(kind, where)
    closers += more
    return [plan, tool], store_floor_contender(kind, where, tool, closers), closers


async def measure_sqlite(workdir: Path, rounds: int) -> list[Row]:
    """flowai_nb vs LangGraph SqliteSaver, same WAL/synchronous settings on both."""
    ours, floor, closers = _ours("sqlite", str(workdir / "flowai.db"))
    contenders = [*ours, floor]
    peer_name = "LangGraph (interrupt + SqliteSaver, WAL, synchronous=NORMAL)"
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver

        conns = (_sqlite_conn(workdir / "langgraph.db"), _sqlite_conn(workdir / "langgraph.db"))
        closers += conns
        contenders.append(langgraph_contender(peer_name, tuple(SqliteSaver(c) for c in conns)))
    except ImportError:
        pass
    medians = await _timed(contenders, closers, rounds)
    rows = []
    for contender in ours:
        rate = 1 / medians[contender.name]
        workload = f"SQLite, {contender.name.split()[-2]} gate: pause + approve + resume"
        rows.append(Row(workload, _rate(rate), bar=f">= {BAR:,.0f} round trips/s",
                        passed=rate >= BAR))
        if peer_name not in medians:
            rows.append(Row(workload, _rate(rate), peer_name,
                            PEER_HINT + " langgraph-checkpoint-sqlite"))
        else:
            theirs = 1 / medians[peer_name]
            rows.append(Row(workload, _rate(rate), peer_name, _rate(theirs), rate / theirs,
                            f">= {SQLITE_BAR:g}x", rate / theirs >= SQLITE_BAR))
    if peer_name in medians:  # the I/O alone: the ceiling of the tool-gate rows, no bar
        rate, theirs = 1 / medians[floor.name], 1 / medians[peer_name]
        rows.append(Row(f"SQLite, tool gate: {FLOOR_WORKLOAD}", _rate(rate), peer_name,
                        _rate(theirs), rate / theirs))
    return rows


def _commit_contender(url: str) -> tuple[Contender, Any]:
    """One durable commit (a one-row INSERT, autocommit) per unit: the physical floor."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, v text)")
    setting = conn.execute("SHOW synchronous_commit").fetchone()[0]
    if setting != "on":
        raise RuntimeError(f"synchronous_commit is {setting!r}; the bench needs 'on'")

    async def run(n: int) -> None:
        for _ in range(n):
            conn.execute("INSERT INTO bench_commit (v) VALUES ('x')")

    return Contender("one durable commit", run), conn


async def measure_postgres(url: str, rounds: int) -> list[Row]:
    """flowai_nb vs LangGraph PostgresSaver on one durable server, with the commit floor."""
    import psycopg

    ours, io_floor, closers = _ours("postgres", url)
    floor, conn = _commit_contender(url)
    closers.append(conn)
    contenders = [*ours, io_floor, floor]
    peer_name = "LangGraph (interrupt + PostgresSaver)"
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conns = tuple(psycopg.connect(url, autocommit=True, prepare_threshold=0,
                                      row_factory=dict_row) for _ in range(2))
        closers += conns
        savers = tuple(PostgresSaver(c) for c in conns)
        savers[0].setup()
        contenders.append(langgraph_contender(peer_name, savers))
    except ImportError:
        pass
    medians = await _timed(contenders, closers, rounds)
    commit_s = medians[floor.name]
    rows = []
    for contender in ours:
        ours_s = medians[contender.name]
        commits = ours_s / commit_s
        workload = (f"PostgreSQL (synchronous_commit=on), {contender.name.split()[-2]} gate: "
                    f"pause + approve + resume")
        rows.append(Row(workload, f"{commits:.2f} commits", "one durable commit",
                        f"{commit_s * 1e3:.3f} ms", bar=f"<= {PG_COMMITS_BAR:g} commits",
                        passed=commits <= PG_COMMITS_BAR))
        if peer_name not in medians:
            rows.append(Row(workload, _rate(1 / ours_s), peer_name,
                            PEER_HINT + " langgraph-checkpoint-postgres"))
        else:
            theirs = medians[peer_name]
            rows.append(Row(workload, _rate(1 / ours_s), peer_name, _rate(1 / theirs),
                            theirs / ours_s, f">= {PG_BAR:g}x", theirs / ours_s >= PG_BAR))
    io_s = medians[io_floor.name]  # the I/O alone: the ceiling of the tool-gate rows, no bar
    workload = f"PostgreSQL (synchronous_commit=on), tool gate: {FLOOR_WORKLOAD}"
    rows.append(Row(workload, f"{io_s / commit_s:.2f} commits", "one durable commit",
                    f"{commit_s * 1e3:.3f} ms"))
    if peer_name in medians:
        theirs = medians[peer_name]
        rows.append(Row(workload, _rate(1 / io_s), peer_name, _rate(1 / theirs), theirs / io_s))
    return rows


def _postgres_rows(rounds: int) -> tuple[list[Row], list[str]]:
    """The PostgreSQL rows, on a throwaway durable server (fsync on, the defaults)."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import pytest

        from tests.servers import postgres_server
    except ImportError as exc:
        return [], [f"PostgreSQL rows skipped: {exc}"]
    try:
        with postgres_server(durable=True) as url:
            return asyncio.run(measure_postgres(url, rounds)), []
    except pytest.skip.Exception as exc:
        return [], [f"PostgreSQL rows skipped: {exc.msg}"]


async def _timed(contenders: list[Contender], closers: list[Any],
                 rounds: int) -> dict[str, float]:
    """Median seconds per round trip of each contender; close ``closers`` afterwards."""
    try:
        return await interleave(contenders, rounds=rounds)
    finally:
        for closer in closers:
            closer.close()


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f} /s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=size(5, 1), help="timed rounds (median)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowai-bench-") as tmp:
        rows = asyncio.run(measure_sqlite(Path(tmp), args.rounds))
    notes = ["plan gate: a whole executor run (model turns, plan gate, persisted pause, "
             "decision, resume in a second runtime reading the store, claim + approve + "
             "dispatch, status history, trace saved); 6 durable commits per round trip",
             "tool gate: call_tool of a gated tool (persisted pause, decision, resume in a "
             "second runtime, tool run, trace saved); 4 durable commits per round trip",
             "LangGraph pauses in one compiled graph and resumes in a second one on its own "
             "checkpointer connection",
             f"{FLOOR_WORKLOAD}: the store calls one tool-gate round trip makes (recorded "
             "from a real one: 4 transactions, 3 reads), replayed on a store of the same kind "
             "with fresh ids and nothing else around them: the ceiling of the tool-gate rows "
             "above, which add the engine's Python work to this I/O"]
    if not args.no_postgres:
        pg_rows, pg_notes = _postgres_rows(args.rounds)
        rows += pg_rows
        notes += pg_notes
    print_table(f"durable approval round trips, median of {args.rounds} interleaved rounds "
                f"(ratio = how many times faster flowai_nb is)", rows, notes)


if __name__ == "__main__":
    main()
