"""Whatever a tool handler or the model's arguments do, the run ends with ``run-finish``,
its trace is stored, and a bad value or a raise is a tool error the model reads (SPEC §16).

Every case is bounded with ``asyncio.wait_for``: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import flowai_nb as fa
from flowai_nb.interpreters.base import Interpreter, TextDelta, ToolUse, TurnRequest

BOUND_S = 60.0


class _Deep:
    pass


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


def _cycle() -> dict:
    value: dict = {"name": "loop"}
    value["self"] = value
    return value


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class _Custom(BaseException):
    """A BaseException that is none of the usual ones."""


SURROGATES = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # invalid UTF-8 as str
HUGE = "x" * 3_000_000

# (id, what the tool returns or raises, whether the model must see an error)
RESULTS: list[tuple[str, Any, bool]] = [
    ("nan", {"mean": math.nan}, False),
    ("inf", {"hi": math.inf, "lo": [-math.inf]}, False),
    ("bytes", b"\x00\xff", True),
    ("bytes-nested", {"blob": b"\x89PNG"}, True),
    ("cycle", _cycle(), True),
    ("deep-10000", _deep(10_000), True),
    ("bad-repr", {"obj": _BadRepr()}, True),
    ("huge-string", HUGE, False),
    ("invalid-utf8", {"text": SURROGATES}, False),
    ("raise-cancelled", asyncio.CancelledError("handler cancelled itself"), True),
    ("raise-baseexception", _Custom("odd"), True),
    ("raise-keyboardinterrupt", KeyboardInterrupt(), True),
    ("raise-systemexit", SystemExit(3), True),
    ("raise-recursion", RecursionError("maximum recursion depth exceeded"), True),
    ("raise-bad-str", type("BadStr", (Exception,), {"__str__": lambda self: 1 / 0})(), True),
]

# (id, the model's tool arguments, whether the call must be refused)
ARGS: list[tuple[str, Any, bool]] = [
    ("nan", {"value": math.nan}, False),
    ("inf", {"value": [math.inf, -math.inf]}, False),
    ("bytes", {"value": b"\xff\xfe"}, True),
    ("cycle", {"value": _cycle()}, True),
    ("deep-10000", {"value": _deep(10_000)}, True),
    ("huge-string", {"value": HUGE}, False),
    ("invalid-utf8", {"value": SURROGATES}, False),
    ("not-an-object", [1, 2, 3], True),
]


class OneCall(Interpreter):
    """Turn 1 calls ``probe`` with ``args``; turn 2 answers with text."""

    name = "one-call"

    def __init__(self, args: Any) -> None:
        self.args = args
        self.seen_results: list[Any] = []

    async def turn(self, request: TurnRequest) -> AsyncIterator[Any]:
        if not any(m["role"] == "assistant" for m in request.messages):
            yield ToolUse(id="call-1", name="probe", input=self.args)
            return
        last = request.messages[-1]["content"][0]
        self.seen_results.append(last)
        yield TextDelta("done")


def _runtime(handler: Any, args: Any, storage: dict | None) -> tuple[fa.Runtime, OneCall]:
    probe = fa.define_tool("probe", "Probe", {"value": object})
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("analyst", model="m", prompt="Analyse.", tools=[probe])],
        storage_factories=storage,
    )
    interpreter = OneCall(args)
    rt = fa.create_runtime(spec, tool_bindings={"probe": handler}, interpreter=interpreter)
    return rt, interpreter


async def _run(rt: fa.Runtime) -> list[dict]:
    stream = rt.run_specialist("analyst", "go")
    return await asyncio.wait_for(stream.collect(), BOUND_S)


def _check_finished(rt: fa.Runtime, events: list[dict]) -> dict:
    assert events[-1]["type"] == "run-finish", [e["type"] for e in events[-3:]]
    assert events[-1]["status"] == "completed"
    assert events[-1]["text"] == "done"  # the model got its second turn: the run went on
    trace = rt.get_trace(events[-1]["traceId"])
    assert trace is not None and trace["status"] == "completed"
    assert len(trace["events"]) == len(events)
    (result,) = [e for e in events if e["type"] == "tool-result"]
    return result


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Any) -> dict:
    if request.param == "sqlite":
        return {"kv": {"kind": "sqlite", "path": str(tmp_path / "kv.db")}}
    return {"kv": {"kind": "memory"}}


@pytest.mark.parametrize(("case", "outcome", "is_error"), RESULTS, ids=[r[0] for r in RESULTS])
@pytest.mark.parametrize("style", ["sync", "async"])
def test_any_tool_result_or_raise_ends_the_run_and_stores_the_trace(
        case: str, outcome: Any, is_error: bool, style: str, storage: dict) -> None:
    def produce() -> Any:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def sync_handler(args: dict, ctx: Any) -> Any:
        return produce()

    async def async_handler(args: dict, ctx: Any) -> Any:
        return produce()

    handler = sync_handler if style == "sync" else async_handler
    rt, interpreter = _runtime(handler, {"value": 1}, storage)
    try:
        events = asyncio.run(_run(rt))
        result = _check_finished(rt, events)
        assert ("error" in result) is is_error, result
        seen = interpreter.seen_results[0]
        assert seen["is_error"] is is_error
        if case in ("nan", "inf"):
            assert result["warnings"] and "became null" in seen["content"]
            assert "NaN" not in seen["content"].split("\n")[0]
        if case == "raise-bad-str":
            assert "BadStr" in result["error"]
    finally:
        rt.close()


@pytest.mark.parametrize(("case", "args", "refused"), ARGS, ids=[a[0] for a in ARGS])
def test_any_tool_arguments_end_the_run_and_store_the_trace(
        case: str, args: Any, refused: bool, storage: dict) -> None:
    received: list[Any] = []

    def handler(a: dict, ctx: Any) -> Any:
        received.append(a)
        return {"ok": True}

    rt, interpreter = _runtime(handler, args, storage)
    try:
        events = asyncio.run(_run(rt))
        result = _check_finished(rt, events)
        assert ("error" in result) is refused, result
        if refused:
            assert received == [] and "JSON" in result["error"]
        else:
            assert len(received) == 1
        if case == "nan":
            call = next(e for e in events if e["type"] == "tool-call")
            assert call["args"] == {"value": None} and call["warnings"]
    finally:
        rt.close()


@pytest.mark.postgres
@pytest.mark.parametrize("case", ["nan-result", "nan-args", "bytes-result"])
def test_nan_and_bad_values_on_the_postgres_store(case: str, fresh_postgres_url: str) -> None:
    args = {"value": math.nan} if case == "nan-args" else {"value": 1}
    value = b"\xff" if case == "bytes-result" else {"mean": math.nan}
    rt, _ = _runtime(lambda a, ctx: value, args,
                     {"kv": {"kind": "postgres", "url": fresh_postgres_url}})
    try:
        events = asyncio.run(_run(rt))
        _check_finished(rt, events)
    finally:
        rt.close()


@pytest.mark.parametrize("style", ["sync", "async"])
def test_a_hanging_tool_is_bounded_by_its_timeout(style: str) -> None:
    release = asyncio.Event() if style == "async" else None

    def sync_handler(args: dict, ctx: Any) -> Any:
        time.sleep(2.0)  # a thread cannot be killed; it is abandoned, the run goes on
        return {"late": True}

    async def async_handler(args: dict, ctx: Any) -> Any:
        await asyncio.Event().wait()  # forever

    rt, interpreter = _runtime(sync_handler if style == "sync" else async_handler,
                               {"value": 1}, None)
    rt.tool_timeouts["probe"] = 0.3
    try:
        events = asyncio.run(_run(rt))
        result = _check_finished(rt, events)
        assert "did not finish within 0.3s" in result["error"]
    finally:
        rt.close()
    assert release is None or not release.is_set()


def test_tool_timeout_settings_are_validated() -> None:
    rt, _ = _runtime(lambda a, c: 1, {"value": 1}, None)
    try:
        assert rt.tool_timeout == 120.0
        for bad in (0, -1, "5", True, math.nan):
            with pytest.raises(ValueError, match="tool_timeout"):
                rt.tool_timeout = bad
        rt.tool_timeout = None
        assert rt.tool_timeout is None
    finally:
        rt.close()


def test_cancelling_the_run_during_a_tool_still_cancels_the_run() -> None:
    started = asyncio.Event()

    async def handler(args: dict, ctx: Any) -> Any:
        started.set()
        await asyncio.sleep(60)

    rt, _ = _runtime(handler, {"value": 1}, None)

    async def main() -> list[dict]:
        stream = rt.run_specialist("analyst", "go")
        task = asyncio.ensure_future(stream.collect())
        await asyncio.wait_for(started.wait(), BOUND_S)
        stream.cancel()
        return await asyncio.wait_for(task, BOUND_S)

    try:
        events = asyncio.run(main())
        assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "cancelled"
        assert rt.get_trace(events[-1]["traceId"]) is not None
    finally:
        rt.close()


def test_an_interpreter_raising_a_baseexception_fails_the_run_readably() -> None:
    class Broken(Interpreter):
        name = "broken"

        async def turn(self, request: TurnRequest) -> AsyncIterator[Any]:
            raise _Custom("provider bug")
            yield  # pragma: no cover

    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("analyst", model="m", prompt="Analyse.")])
    rt = fa.create_runtime(spec, interpreter=Broken())
    try:
        events = asyncio.run(_run(rt))
        assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "failed"
        assert any("provider bug" in e.get("message", "") for e in events if e["type"] == "error")
        assert rt.get_trace(events[-1]["traceId"]) is not None
    finally:
        rt.close()


@pytest.mark.parametrize("raised", [_Custom("hook bug"), asyncio.CancelledError("hook"),
                                    ValueError("plain")], ids=["baseexception", "cancelled",
                                                               "exception"])
@pytest.mark.parametrize("style", ["sync", "async"])
def test_an_event_hook_raising_anything_never_keeps_the_stream_open(
        raised: BaseException, style: str) -> None:
    def sync_hook(event: dict) -> None:
        if event["type"] in ("tool-call", "run-finish"):
            raise raised

    async def async_hook(event: dict) -> None:
        if event["type"] in ("tool-call", "run-finish"):
            raise raised

    probe = fa.define_tool("probe", "Probe", {"value": object})
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("analyst", model="m", prompt="Analyse.", tools=[probe])])
    rt = fa.create_runtime(spec, tool_bindings={"probe": lambda a, c: {"ok": 1}},
                           interpreter=OneCall({"value": 1}),
                           event_hooks=[sync_hook if style == "sync" else async_hook])
    try:
        events = asyncio.run(_run(rt))
        assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "completed"
        assert any(e["type"] == "error" and e["where"] == "event_hook" for e in events)
        trace = rt.get_trace(events[-1]["traceId"])
        assert trace is not None and trace["hookErrors"]
    finally:
        rt.close()
