"""Turn a recorded trace into scripts for the ``scripted`` interpreter.

Record a live run once, replay it forever as a regression test::

    trace = live_runtime.get_trace(stream.run_id)          # or json.load(...) of a saved one
    spec = fa.define_runtime(tenant, agents=[...], providers={"scripted": {"replay": trace}})
    replay = fa.create_runtime(spec, interpreter="scripted")

:func:`script_from_trace` cuts each agent's events into model turns. A model
turn is what the model produced between two rounds of tool results: its text
deltas (kept delta for delta), reasoning deltas, tool calls (one, or several
in parallel) and usage. A turn ends when the agent's tool results start
coming back, or at its ``agent-finish``.

Tool calls of one model turn are told apart from those of the next by the
``usage`` event every live model turn emits: when the engine announces a
turn's usage before its tool calls, every call up to the next usage belongs
to that turn, even though the engine runs each call (and reports its result)
before announcing the next. Without usage events, a call after a tool result
starts a new turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["script_from_trace"]


class _Turn:
    __slots__ = ("text", "reasoning", "calls", "usage", "usage_first")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.usage_first = False  # usage was announced before this turn's tool calls

    def empty(self) -> bool:
        return not (self.text or self.reasoning or self.calls or self.usage)

    def as_script(self) -> dict[str, Any]:
        turn: dict[str, Any] = {}
        if self.reasoning:
            turn["reasoning"] = self.reasoning
        if self.text or not self.calls:
            turn["text"] = self.text or ""
        if len(self.calls) == 1:
            turn.update(self.calls[0])
        elif self.calls:
            turn["tools"] = self.calls
        if self.usage:
            turn["usage"] = self.usage
        return turn


class _Agent:
    """The cutting state of one agent's events."""

    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []
        self.cur = _Turn()
        self.awaiting_results = False  # the current turn's tool results are coming back

    def flush(self) -> None:
        if not self.cur.empty():
            self.turns.append(self.cur.as_script())
        self.cur = _Turn()
        self.awaiting_results = False

    def next_model_turn(self) -> None:
        if self.awaiting_results:
            self.flush()

    def event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "agent-start":
            self.flush()
        elif kind == "text-delta":
            self.next_model_turn()
            self.cur.text.append(event.get("delta", ""))
        elif kind == "reasoning-delta":
            self.next_model_turn()
            self.cur.reasoning.append(event.get("delta", ""))
        elif kind == "usage":
            self.next_model_turn()
            usage = {"inputTokens": event.get("inputTokens", 0),
                     "outputTokens": event.get("outputTokens", 0)}
            for key in ("cacheReadTokens", "cacheWriteTokens", "costUsd"):
                if event.get(key) is not None:
                    usage[key] = event[key]
            self.cur.usage = usage
            self.cur.usage_first = not self.cur.calls
        elif kind == "tool-call":
            if not self.cur.usage_first:
                self.next_model_turn()
            self.cur.calls.append({"tool": event["tool"], "args": dict(event.get("args") or {})})
        elif kind == "tool-result":
            if self.cur.calls:
                self.awaiting_results = True
        elif kind == "agent-finish":
            if self.awaiting_results:
                self.flush()
                if not event.get("error"):  # the final answer, even an empty one
                    self.turns.append(_Turn().as_script())
            else:
                if self.cur.empty() and not event.get("error"):
                    self.turns.append(_Turn().as_script())
                self.flush()

    def finish(self) -> list[dict[str, Any]]:
        self.flush()  # a run that ended mid-turn (failed or cancelled)
        return self.turns


def script_from_trace(trace: Mapping[str, Any] | Sequence[Mapping[str, Any]]
                      ) -> dict[str, list[dict[str, Any]]]:
    """``{agent_name: [turn, ...]}`` for the ``scripted`` interpreter, from a recorded run.

    Args:
        trace: a trace dict (``runtime.get_trace(...)``, with its ``events``)
            or a plain list of events, in ``seq`` order.

    Returns:
        One script per agent that took part, its turns in order across all its
        invocations: ``{"text": [deltas...]}``, ``{"tool": name, "args": {...}}``
        or ``{"tools": [...]}``, with the text, ``"reasoning"`` and ``"usage"``
        of the same model turn alongside.

    Raises:
        ValueError: ``trace`` is neither a trace dict nor a list of events.
    """
    if isinstance(trace, Mapping):
        if "events" not in trace:
            raise ValueError(f"expected a trace dict with 'events' (runtime.get_trace(...)) or a "
                             f"list of events; got a dict with keys {sorted(trace)}")
        events = trace["events"]
    else:
        events = trace
    if isinstance(events, str | bytes) or not all(isinstance(e, Mapping) for e in events):
        raise ValueError("a trace's events must be a list of event dicts")
    agents: dict[str, _Agent] = {}
    for event in sorted(events, key=lambda e: e.get("seq", 0)):
        name = event.get("agent")
        if name is None or event.get("type") in ("run-start", "run-finish"):
            continue
        agents.setdefault(name, _Agent()).event(event)
    return {name: state.finish() for name, state in agents.items()}
