"""Interpreters: how model turns are played (noop, testing, scripted, anthropic)."""

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

__all__ = ["Interpreter", "InterpreterError", "ReasoningDelta", "TextDelta", "ToolUse",
           "TurnEvent", "TurnRequest", "Usage"]
