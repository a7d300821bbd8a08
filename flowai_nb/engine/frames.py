"""Agent frames: the resumable state of one agent invocation.

A run is a stack of frames (the entry agent, the sub-agent it called, ...).
Each frame is plain JSON, so a paused run is persisted by writing its root
frame, and continued in a new kernel by reading it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Frame"]


@dataclass(slots=True)
class Frame:
    """One agent invocation.

    Attributes:
        agent: the agent's name.
        depth: 0 for the entry agent, +1 per nesting.
        thread: the history key (the run's thread, or ``thread/agent`` for sub-agents).
        prompt: what the agent was asked.
        parent_call: the tool call that started this frame (``parentId`` of its events).
        messages: the conversation so far (history included).
        turns: model turns played in this invocation.
        pending: tool calls of the last assistant turn still being executed.
        results: tool results of ``pending`` collected so far.
        announced: ids of pending calls whose ``tool-call`` event was emitted.
        child: the sub-agent frame running inside the current tool call.
        usage: token usage of this invocation.
        started: whether ``agent-start`` was emitted.
        finished: whether ``agent-finish`` was emitted.
        history_len: how many leading ``messages`` came from the stored history (the
            rest are appended to it when a stateful agent finishes).
    """

    agent: str
    depth: int
    thread: str
    prompt: str
    parent_call: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    pending: list[dict[str, Any]] | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)
    child: Frame | None = None
    usage: dict[str, Any] = field(default_factory=lambda: {"inputTokens": 0, "outputTokens": 0})
    started: bool = False
    finished: bool = False
    history_len: int = 0

    def to_json(self) -> dict[str, Any]:
        """The frame (and its child chain) as JSON-ready data.

        Shares the message lists instead of copying them: a snapshot is encoded
        by the store right away.
        """
        data = {name: getattr(self, name) for name in self.__slots__ if name != "child"}
        data["child"] = self.child.to_json() if self.child is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frame:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        child = data.pop("child", None)
        frame = cls(**data)
        frame.child = cls.from_json(child) if child else None
        return frame
