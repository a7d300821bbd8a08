"""The ``testing`` interpreter: every turn answers a fixed mock response."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from .base import Interpreter, TextDelta, TurnEvent, TurnRequest, Usage

__all__ = ["MockInterpreter"]

_PIECES = re.compile(r"\S+\s*|\s+")


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


class MockInterpreter(Interpreter):
    """Emits ``mock_response`` as several text deltas (one per word) and a usage event."""

    name = "testing"

    def __init__(self, mock_response: str) -> None:
        self.mock_response = mock_response

    async def turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        for piece in _PIECES.findall(self.mock_response):
            yield TextDelta(piece)
        prompt_chars = len(request.system) + sum(
            len(str(m.get("content"))) for m in request.messages)
        yield Usage(input_tokens=max(1, prompt_chars // 4),
                    output_tokens=_estimate_tokens(self.mock_response))

    def __repr__(self) -> str:
        return f"MockInterpreter(mock_response={self.mock_response!r})"
