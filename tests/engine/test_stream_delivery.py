"""Deltas reach a consumer of ``query()`` in order, promptly, whatever the provider's pace.

The stream wakes a waiting consumer once per batch of deltas; a provider that
sends one delta and then waits (here: for the consumer to have seen it) must
still get it delivered, and a fast yielding provider's text must arrive whole.
"""

from __future__ import annotations

import asyncio

import flowai_nb as fa
from flowai_nb.interpreters.base import Interpreter, TextDelta, TurnRequest


class _Provider(Interpreter):
    name = "paced"

    def __init__(self, deltas: list[str], seen: asyncio.Event | None = None) -> None:
        self.deltas, self.seen = deltas, seen

    async def turn(self, request: TurnRequest):
        for i, delta in enumerate(self.deltas):
            await asyncio.sleep(0)  # yields to the loop like a socket read
            yield TextDelta(delta)
            if i == 0 and self.seen is not None:
                await self.seen.wait()  # the next delta only after the consumer saw this one


def _runtime(provider: Interpreter) -> fa.Runtime:
    spec = fa.define_runtime(fa.define_tenant("t", "1"),
                             agents=[fa.define_coordinator("c", model="m", prompt="p")])
    return fa.create_runtime(spec, interpreter=provider)


def test_a_lone_delta_is_delivered_while_the_provider_waits() -> None:
    async def go() -> list[str]:
        seen = asyncio.Event()
        rt = _runtime(_Provider(["first ", "second"], seen))
        types = []
        async for event in rt.query("hi", "t1"):
            types.append(event["type"])
            if event["type"] == "text-delta":
                seen.set()
        return types

    types = asyncio.run(asyncio.wait_for(go(), 10))
    assert types.count("text-delta") == 2 and types[-1] == "run-finish"


def test_many_yielding_deltas_arrive_in_order_with_exact_text() -> None:
    deltas = [f"{i} " for i in range(5000)]

    async def go() -> tuple[list[str], str]:
        rt = _runtime(_Provider(deltas))
        got, final = [], ""
        async for event in rt.query("hi", "t1"):
            if event["type"] == "text-delta":
                got.append(event["delta"])
            elif event["type"] == "run-finish":
                final = event["text"]
        return got, final

    got, final = asyncio.run(asyncio.wait_for(go(), 30))
    assert got == deltas and final == "".join(deltas)
