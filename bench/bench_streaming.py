"""Streaming throughput: text deltas per second delivered to a consumer of ``runtime.query()``.

flowai_nb plays one turn of ``--deltas`` text deltas (100,000 by default) in
two shapes, and the consumer counts the ``text-delta`` events it receives:
from the scripted interpreter, which never waits (the engine hands deltas on
in batches), and from a provider that yields to the event loop before every
delta, as a network stream does (producer and consumer alternate). Each
shape is set beside the matching asyncio floor. The
peers stream ``--peer-deltas`` deltas from their own fake models through their
streaming APIs (pydantic-ai ``run_stream`` / ``stream_text(delta=True)``,
LangGraph ``astream(stream_mode="messages")``); the floor is a bare asyncio
producer/consumer over an ``asyncio.Queue``. SPEC §17 bar: at least 200,000
events/s, in both shapes. Usage::

    python bench/bench_streaming.py [--deltas 100000] [--peer-deltas 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _harness import PEER_HINT, Row, print_table, size

import flowai_nb as fa
from flowai_nb.interpreters.base import Interpreter, TextDelta, TurnRequest

BAR = 200_000

Stream = Callable[[], Awaitable[int]]
"""``stream()`` streams its deltas to a consumer; returns how many the consumer saw."""


class _YieldingProvider(Interpreter):
    """A provider shaped like a network stream: it yields to the loop before every delta."""

    name = "yielding"

    def __init__(self, n: int) -> None:
        self.n = n

    async def turn(self, request: TurnRequest):
        for _ in range(self.n):
            await asyncio.sleep(0)  # the socket read a real provider awaits
            yield TextDelta("x")


def flowai_stream(n: int, *, yielding: bool = False) -> Stream:
    """flowai_nb: one turn of ``n`` deltas, consumed with ``async for``; from the scripted
    interpreter (which never waits), or with ``yielding`` from a provider that yields to
    the event loop on every delta."""
    spec = fa.define_runtime(
        fa.define_tenant("bench", "1"),
        agents=[fa.define_coordinator("talker", model="scripted", prompt="Talk.")],
        providers={"scripted": {"scripts": {"talker": [{"text": ["x"] * n}]}}},
    )
    rt = fa.create_runtime(spec, interpreter=_YieldingProvider(n) if yielding else "scripted")
    threads = itertools.count()

    async def stream() -> int:
        seen = 0
        async for event in rt.query("Say x many times.", f"t{next(threads)}"):
            if event["type"] == "text-delta":
                seen += 1
        return seen

    return stream


def asyncio_floor(n: int, switch_per_item: bool) -> Stream:
    """The floor: a producer task puts ``n`` event dicts on an ``asyncio.Queue`` and the
    consumer takes them; with ``switch_per_item`` the producer yields to the loop after
    each item, so producer and consumer alternate item by item."""

    async def stream() -> int:
        return await _queue_stream(n, switch_per_item)

    return stream


async def _queue_stream(n: int, switch_per_item: bool) -> int:
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def produce() -> None:
        for i in range(n):
            await queue.put({"type": "text-delta", "seq": i, "delta": "x"})
            if switch_per_item:
                await asyncio.sleep(0)
        await queue.put(None)

    task = asyncio.create_task(produce())
    seen = 0
    while await queue.get() is not None:
        seen += 1
    await task
    return seen


def pydantic_ai_stream(n: int) -> Stream:
    """pydantic-ai: ``run_stream`` on a ``FunctionModel`` stream function."""
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel

    async def deltas(messages: list[Any], info: Any) -> Any:
        for _ in range(n):
            yield "x"

    agent = Agent(FunctionModel(stream_function=deltas))

    async def stream() -> int:
        seen = 0
        async with agent.run_stream("Say x many times.") as result:
            async for _ in result.stream_text(delta=True, debounce_by=None):
                seen += 1
        return seen

    return stream


def langgraph_stream(n: int) -> Stream:
    """LangGraph: a one-node graph calling a fake streaming chat model,
    consumed with ``astream(stream_mode="messages")``."""
    from typing import Annotated, TypedDict

    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langgraph.graph import START, StateGraph
    from langgraph.graph.message import add_messages

    class FakeStreamingModel(BaseChatModel):
        """Streams ``n`` one-character chunks."""

        @property
        def _llm_type(self) -> str:
            return "fake-streaming"

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None,
                      **kwargs: Any) -> ChatResult:
            message = AIMessage("x" * n)
            return ChatResult(generations=[ChatGeneration(message=message)])

        async def _astream(self, messages: list[Any], stop: Any = None,
                           run_manager: Any = None, **kwargs: Any) -> Any:
            for _ in range(n):
                chunk = ChatGenerationChunk(message=AIMessageChunk("x"))
                if run_manager is not None:
                    await run_manager.on_llm_new_token("x", chunk=chunk)
                yield chunk

    model = FakeStreamingModel()

    async def call_model(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    # functional form: class syntax would need add_messages importable at module scope
    state = TypedDict("State", {"messages": Annotated[list[Any], add_messages]})  # noqa: UP013
    builder = StateGraph(state)
    builder.add_node("model", call_model)
    builder.add_edge(START, "model")
    graph = builder.compile()

    async def stream() -> int:
        seen = 0
        async for chunk, _meta in graph.astream({"messages": [HumanMessage("Say x.")]},
                                                 stream_mode="messages"):
            if chunk.content:
                seen += 1
        return seen

    return stream


async def rates(streams: dict[str, tuple[Stream, int]], repeat: int
                ) -> tuple[dict[str, float], dict[str, float]]:
    """Median deltas/s of each stream, timed in alternating rounds after one warm-up each:
    per wall-clock second, and per CPU second of this thread (steadier on a busy machine)."""
    samples: dict[str, list[float]] = {name: [] for name in streams}
    cpu: dict[str, list[float]] = {name: [] for name in streams}
    for round_ in range(repeat + 1):
        for name, (stream, n) in streams.items():
            gc.collect()
            start, start_cpu = time.perf_counter(), time.thread_time()
            seen = await stream()
            elapsed, used = time.perf_counter() - start, time.thread_time() - start_cpu
            if seen != n:
                raise RuntimeError(f"{name}: the consumer saw {seen} deltas, expected {n}")
            if round_:  # round 0 is the warm-up
                samples[name].append(n / elapsed)
                cpu[name].append(n / max(used, 1e-9))
    return ({name: statistics.median(v) for name, v in samples.items()},
            {name: statistics.median(v) for name, v in cpu.items()})


async def measure(deltas: int = 100_000, peer_deltas: int = 10_000,
                  repeat: int = 3) -> list[Row]:
    """Time flowai_nb, the asyncio floors and the peers; return the table rows."""
    streams = {"flowai_nb": (flowai_stream(deltas), deltas),
               "flowai_nb, yielding provider": (flowai_stream(deltas, yielding=True), deltas),
               "floor: asyncio.Queue": (asyncio_floor(deltas, False), deltas),
               "floor: asyncio.Queue, switch per item": (asyncio_floor(deltas, True), deltas)}
    missing = []
    for name, make in (("pydantic-ai run_stream", pydantic_ai_stream),
                       ("LangGraph stream_mode=messages", langgraph_stream)):
        try:
            streams[name] = (make(peer_deltas), peer_deltas)
        except ImportError:
            missing.append(name)
    measured, per_cpu = await rates(streams, repeat)
    rows = []
    shapes = {"flowai_nb": "floor: asyncio.Queue",
              "flowai_nb, yielding provider": "floor: asyncio.Queue, switch per item"}
    ourselves = {shape: measured.pop(shape) for shape in shapes}
    for shape, floor in shapes.items():
        ours = ourselves[shape]
        workload = "text deltas -> consumer" + shape.removeprefix("flowai_nb")
        rows.append(Row(workload, _rate(ours), bar=f">= {BAR:,} events/s", passed=ours >= BAR))
        rows.append(Row(workload, _rate(ours), floor, _rate(measured[floor]),
                        ours / measured[floor]))
        rows.append(Row(workload + ", per CPU second", _rate(per_cpu[shape]), floor,
                        _rate(per_cpu[floor]), per_cpu[shape] / per_cpu[floor]))
        rows += [Row(workload, _rate(ours), name, _rate(theirs), ours / theirs)
                 for name, theirs in measured.items() if not name.startswith("floor")]
        rows += [Row(workload, _rate(ours), name, PEER_HINT) for name in missing]
    return rows


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f} /s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=size(100_000, 200),
                        help="deltas per flowai_nb run")
    parser.add_argument("--peer-deltas", type=int, default=size(10_000, 50),
                        help="deltas per peer run")
    parser.add_argument("--repeat", type=int, default=size(3, 1), help="timed streams (median)")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.deltas, args.peer_deltas, args.repeat))
    print_table(f"streaming throughput, median of {args.repeat} interleaved rounds "
                f"(ratio = flowai_nb rate / other rate)", rows,
                [f"flowai_nb and the floor stream {args.deltas:,} deltas per run, the peers "
                 f"{args.peer_deltas:,}; each event also goes to flowai_nb's trace"])


if __name__ == "__main__":
    main()
