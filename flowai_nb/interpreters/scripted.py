"""The ``scripted`` interpreter: deterministic replay of model turns.

A script is a list of turns for one agent. A turn is a mapping with any of:

- ``"text"``: a string, or a list of strings emitted as one text delta each;
- ``"reasoning"``: the same, as reasoning deltas;
- ``"tool": name, "args": {...}``: one tool call;
- ``"tools": [{"tool": name, "args": {...}}, ...]``: parallel tool calls;
- ``"usage": {"inputTokens": n, "outputTokens": m, "costUsd": x}``.

A turn without tool calls ends the agent's invocation. Each agent consumes its
own list in order with one cursor per agent per top-level thread, across all
its invocations in that thread; cursors live in the runtime's kv store, so a
paused run resumed in a new kernel continues exactly where it was. Scripts in
the prompt (``{"script": [...]}``) have their own cursors per run, kept in the
run's interpreter state (saved with the run when it pauses: no store write per turn).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..storage.base import KeyValueStore
from .base import (
    Interpreter,
    InterpreterError,
    ReasoningDelta,
    TextDelta,
    ToolUse,
    TurnEvent,
    TurnRequest,
    Usage,
)

__all__ = ["ScriptedInterpreter", "validate_script"]

_TURN_KEYS = {"text", "reasoning", "tool", "args", "tools", "usage"}


def validate_script(agent: str, turns: Any) -> list[dict[str, Any]]:
    """Check a script's shape; raise ``ValueError`` naming the agent and the turn."""
    if not isinstance(turns, list):
        raise ValueError(f"script for agent {agent!r} must be a list of turns; got {turns!r}")
    for i, turn in enumerate(turns, 1):
        if not isinstance(turn, Mapping):
            raise ValueError(f"script for agent {agent!r}, turn {i}: expected a mapping, "
                             f"got {turn!r}")
        unknown = set(turn) - _TURN_KEYS
        if unknown:
            raise ValueError(f"script for agent {agent!r}, turn {i}: unknown key(s) "
                             f"{sorted(unknown)}; a turn has {sorted(_TURN_KEYS)}")
        if "tool" in turn and "tools" in turn:
            raise ValueError(f"script for agent {agent!r}, turn {i}: use 'tool' or 'tools', "
                             f"not both")
        calls = turn.get("tools", [])
        if not isinstance(calls, list) or not all(isinstance(c, Mapping) and "tool" in c
                                                  for c in calls):
            raise ValueError(f"script for agent {agent!r}, turn {i}: 'tools' must be a list "
                             f"of {{'tool': name, 'args': {{...}}}}")
    return list(turns)


def _pieces(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


class ScriptedInterpreter(Interpreter):
    """Plays scripted turns; see the module docstring for the format.

    Args:
        scripts: ``{agent_name: [turn, ...]}``.
        cursors: the store holding the per-thread cursors (tenant-scoped).
    """

    name = "scripted"

    def __init__(self, scripts: Mapping[str, list[dict[str, Any]]],
                 cursors: KeyValueStore) -> None:
        self.scripts = {agent: validate_script(agent, turns) for agent, turns in scripts.items()}
        self._cursors = cursors

    def _script_for(self, request: TurnRequest) -> tuple[list[dict[str, Any]], str | None]:
        """The agent's turns and the kv key of its cursor (``None``: a per-run cursor in
        ``request.state``)."""
        override = request.options.get("script")
        if override is not None and request.agent in override:
            return override[request.agent], None
        if request.agent not in self.scripts:
            raise InterpreterError(
                f"no script for agent {request.agent!r}; scripted agents: "
                f"{sorted(self.scripts) or 'none'} (give providers={{'scripted': {{'scripts': "
                f"{{agent: [turns]}}}}}} or a prompt {{'script': [...]}})"
            )
        return self.scripts[request.agent], f"scripted/{request.thread_id}/{request.agent}"

    async def turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        turns, key = self._script_for(request)
        cursor = (self._cursors.get(key) if key is not None
                  else request.state.get("scriptCursors", {}).get(request.agent)) or 0
        if cursor >= len(turns):
            raise InterpreterError(
                f"script for agent {request.agent!r} ran out: turn {cursor + 1} was requested "
                f"but the script has {len(turns)} turn(s)"
            )
        turn = turns[cursor]
        calls = turn.get("tools") or ([{"tool": turn["tool"], "args": turn.get("args", {})}]
                                      if "tool" in turn else [])
        known = {t["name"] for t in request.tools} if calls else set()
        for call in calls:
            if call["tool"] not in known:
                raise InterpreterError(
                    f"script for agent {request.agent!r}, turn {cursor + 1}: tool "
                    f"{call['tool']!r} is not one of the agent's tools {sorted(known)}"
                )
        if key is None:
            request.state.setdefault("scriptCursors", {})[request.agent] = cursor + 1
        else:
            self._cursors.put(key, cursor + 1)
        for piece in _pieces(turn.get("reasoning")):
            yield ReasoningDelta(piece)
        for piece in _pieces(turn.get("text")):
            yield TextDelta(piece)
        for i, call in enumerate(calls):
            yield ToolUse(id=f"call-{request.agent}-{cursor + 1}-{i}", name=call["tool"],
                          input=dict(call.get("args") or {}))
        if usage := turn.get("usage"):
            yield Usage(input_tokens=int(usage.get("inputTokens", 0)),
                        output_tokens=int(usage.get("outputTokens", 0)),
                        cache_read_tokens=int(usage.get("cacheReadTokens", 0)),
                        cache_write_tokens=int(usage.get("cacheWriteTokens", 0)),
                        cost_usd=usage.get("costUsd"))

    def __repr__(self) -> str:
        counts = {a: len(t) for a, t in self.scripts.items()}
        return f"ScriptedInterpreter(turns={counts})"
