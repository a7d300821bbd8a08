"""The interface between the engine and a model provider.

An interpreter plays one *model turn*: given an agent's system prompt, its
conversation so far and its tools, it streams what the model says. The engine
owns everything else (tools, approvals, events, history, persistence).

Conversation messages use the Messages API shape, which every interpreter
reads and the engine writes::

    {"role": "user", "content": [{"type": "text", "text": "..."}]}
    {"role": "assistant", "content": [{"type": "text", "text": "..."},
                                      {"type": "tool_use", "id": "...", "name": "...",
                                       "input": {...}}]}
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "...",
                                  "content": "...", "is_error": False}]}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Interpreter",
    "InterpreterError",
    "TurnRequest",
    "TextDelta",
    "ReasoningDelta",
    "ToolUse",
    "Usage",
    "TurnEvent",
]


class InterpreterError(RuntimeError):
    """A model turn could not be played. Ends the run with status ``failed``."""


@dataclass(slots=True)
class TurnRequest:
    """Everything an interpreter needs for one model turn.

    Attributes:
        agent: the agent's name.
        role: the agent's role (``coordinator``, ``planner``, ``executor``, ``specialist``).
        model: the agent's model id, or ``None``.
        system: the full system prompt (tools table included).
        messages: the conversation so far, Messages API shape (see module doc).
        tools: tool definitions ``{"name", "description", "input_schema"}``.
        thread_id: the run's top-level thread (scripted cursors are per thread).
        run_id: the run's id.
        turn: 1-based model turn within this agent invocation.
        prompt_cache_key: the agent's ``promptCacheKey``, if any.
        options: per-run interpreter options (for example a script from the prompt).
        state: per-run interpreter state the interpreter may change (JSON values only);
            it is saved with a paused run and handed back when the run resumes, in any
            process, so it always matches the run's own progress.
    """

    agent: str
    role: str
    model: str | None
    system: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    thread_id: str
    run_id: str
    turn: int = 1
    prompt_cache_key: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class TextDelta:
    """A piece of the assistant's visible text."""

    text: str


@dataclass(slots=True, frozen=True)
class ReasoningDelta:
    """A piece of extended thinking."""

    text: str


@dataclass(slots=True, frozen=True)
class ToolUse:
    """A tool call the model made. ``id`` is unique within the run."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(slots=True, frozen=True)
class Usage:
    """Token usage of one model turn; ``cost_usd`` when the price is known."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None


TurnEvent = TextDelta | ReasoningDelta | ToolUse | Usage


class Interpreter(ABC):
    """Plays model turns. Subclasses implement :meth:`turn`."""

    name: str = "abstract"

    @abstractmethod
    def turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        """Stream one model turn as :data:`TurnEvent` values.

        The turn ends when the iterator is exhausted. If it yielded no
        :class:`ToolUse`, the agent's invocation is over and its text is the
        answer. Raise :class:`InterpreterError` for failures the user should see.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release network clients. Called when the runtime is closed."""
