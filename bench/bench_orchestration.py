"""Orchestration overhead: one agent run with one tool call, flowai_nb vs LangGraph and pydantic-ai.

Every contender plays the same conversation with a fake model and no network:
the user asks, the model calls ``stock_level(sku="A")``, reads the result and
answers. flowai_nb runs it through ``runtime.query()`` on the scripted
interpreter with every event streamed to the consumer and the trace recorded;
the peers use their own fake models. Prints the median ms per run and how many
times faster flowai_nb is (SPEC §17 bar: at least 10x faster than both peers).
Usage::

    python bench/bench_orchestration.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import warnings
from typing import Any

from _harness import PEER_HINT, Contender, Row, interleave, print_table, size

import flowai_nb as fa

BAR = 10.0
PROMPT = "How many units of A are in stock?"
ANSWER = "There are 3 units of A."


def _stock_level(sku: str) -> dict[str, Any]:
    return {"sku": sku, "units": 3}


def flowai_contender() -> Contender:
    """flowai_nb: a coordinator with one tool on the scripted interpreter."""
    tool = fa.define_tool("stock_level", "Units in stock for a SKU", {"sku": str})(
        lambda args, ctx: _stock_level(args["sku"]))
    spec = fa.define_runtime(
        fa.define_tenant("bench", "1"),
        agents=[fa.define_coordinator("analyst", model="scripted", prompt="Answer stock "
                                      "questions.", tools=[tool])],
        providers={"scripted": {"scripts": {"analyst": [
            {"tool": "stock_level", "args": {"sku": "A"}}, {"text": ANSWER}]}}},
    )
    rt = fa.create_runtime(spec, interpreter="scripted")
    threads = itertools.count()

    async def run(n: int) -> None:
        for _ in range(n):
            stream = rt.query(PROMPT, f"t{next(threads)}")
            events = [event async for event in stream]
            if stream.text != ANSWER or "tool-result" not in {e["type"] for e in events}:
                raise RuntimeError(f"unexpected flowai_nb run: {[e['type'] for e in events]}")

    return Contender("flowai_nb", run)


def pydantic_ai_contender() -> Contender:
    """pydantic-ai: an ``Agent`` on a ``FunctionModel`` that calls the tool, then answers."""
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    def model(messages: list[Any], info: Any) -> ModelResponse:
        if any(isinstance(part, ToolReturnPart) for part in messages[-1].parts):
            return ModelResponse(parts=[TextPart(ANSWER)])
        return ModelResponse(parts=[ToolCallPart("stock_level", {"sku": "A"})])

    agent = Agent(FunctionModel(model), instructions="Answer stock questions.")

    @agent.tool_plain
    def stock_level(sku: str) -> dict[str, Any]:
        """Units in stock for a SKU."""
        return _stock_level(sku)

    async def run(n: int) -> None:
        for _ in range(n):
            result = await agent.run(PROMPT)
            if result.output != ANSWER:
                raise RuntimeError(f"unexpected pydantic-ai output {result.output!r}")

    return Contender("pydantic-ai (Agent + FunctionModel)", run)


def _langgraph_parts() -> tuple[Any, Any]:
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    @tool
    def stock_level(sku: str) -> dict[str, Any]:
        """Units in stock for a SKU."""
        return _stock_level(sku)

    def reply(messages: list[Any]) -> Any:
        if messages[-1].type == "tool":
            return AIMessage(ANSWER)
        return AIMessage("", tool_calls=[{"name": "stock_level", "args": {"sku": "A"},
                                          "id": "call-1"}])

    return stock_level, reply


def langgraph_react_contender() -> Contender:
    """LangGraph: the prebuilt ReAct agent on a fake tool-calling chat model."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.outputs import ChatGeneration, ChatResult

    stock_level, reply = _langgraph_parts()

    class FakeToolCallingModel(BaseChatModel):
        """Calls the tool on the first turn, answers on the second."""

        @property
        def _llm_type(self) -> str:
            return "fake-tool-calling"

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None,
                      **kwargs: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=reply(messages))])

        def bind_tools(self, tools: Any, **kwargs: Any) -> FakeToolCallingModel:
            return self

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent is deprecated in LangGraph 1.x
        from langgraph.prebuilt import create_react_agent

        graph = create_react_agent(FakeToolCallingModel(), [stock_level],
                                   prompt="Answer stock questions.")
    return Contender("LangGraph (create_react_agent + fake chat model)",
                     _langgraph_run(graph))


def langgraph_graph_contender() -> Contender:
    """LangGraph, minimal: a ``StateGraph`` whose model node is a plain function."""
    from typing import Annotated, TypedDict

    from langgraph.graph import START, StateGraph
    from langgraph.graph.message import add_messages
    from langgraph.prebuilt import ToolNode, tools_condition

    stock_level, reply = _langgraph_parts()

    # functional form: class syntax would need add_messages importable at module scope
    state = TypedDict("State", {"messages": Annotated[list[Any], add_messages]})  # noqa: UP013
    builder = StateGraph(state)
    builder.add_node("model", lambda state: {"messages": [reply(state["messages"])]})
    builder.add_node("tools", ToolNode([stock_level]))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    return Contender("LangGraph (StateGraph + function model node)",
                     _langgraph_run(builder.compile()))


def _langgraph_run(graph: Any) -> Any:
    from langchain_core.messages import HumanMessage

    async def run(n: int) -> None:
        for _ in range(n):
            state = await graph.ainvoke({"messages": [HumanMessage(PROMPT)]})
            if state["messages"][-1].content != ANSWER:
                raise RuntimeError(f"unexpected LangGraph answer {state['messages'][-1]!r}")

    return run


PEERS = {
    "LangGraph (create_react_agent + fake chat model)": langgraph_react_contender,
    "LangGraph (StateGraph + function model node)": langgraph_graph_contender,
    "pydantic-ai (Agent + FunctionModel)": pydantic_ai_contender,
}


async def measure(rounds: int = 7) -> list[Row]:
    """Time every contender; return the table rows."""
    contenders = [flowai_contender()]
    missing: list[str] = []
    for name, make in PEERS.items():
        try:
            contenders.append(make())
        except ImportError:
            missing.append(name)
    medians = await interleave(contenders, rounds=rounds)
    ours = medians["flowai_nb"]
    workload = "1 agent run, 1 tool call"
    rows = [Row(workload, _ms(ours), peer, _ms(medians[peer]), medians[peer] / ours,
                f">= {BAR:.0f}x faster", medians[peer] / ours >= BAR)
            for peer in medians if peer != "flowai_nb"]
    rows += [Row(workload, _ms(ours), peer, PEER_HINT) for peer in missing]
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms/run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=size(7, 1), help="timed rounds (median)")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.rounds))
    print_table(f"orchestration overhead, median of {args.rounds} interleaved rounds "
                f"(ratio = how many times faster flowai_nb is)", rows,
                ["flowai_nb streams every event of each run to the consumer and records its "
                 "trace; the peers return their final state/messages only"])


if __name__ == "__main__":
    main()
