"""Fixtures for the live-provider tests: a local Messages API server and interpreters on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowai_nb.interpreters.anthropic import AnthropicInterpreter
from tests.anthropic_server import MessagesServer


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesServer]:
    """A scripted Messages API server on 127.0.0.1; no ANTHROPIC_* variable leaks in."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
                 "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    server = MessagesServer(api_key="test-key").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anthropic_providers(anthropic_server: MessagesServer) -> Callable[..., dict[str, Any]]:
    """``providers`` for a runtime on the local server; keyword arguments are merged in."""

    def make(**config: Any) -> dict[str, Any]:
        base = {"apiKey": "test-key", "baseUrl": anthropic_server.url, "maxRetries": 2,
                "timeout": 20}
        return {"anthropic": {**base, **config}}

    return make


@pytest.fixture
def make_interp(anthropic_providers: Callable[..., dict[str, Any]]
                ) -> Callable[..., AnthropicInterpreter]:
    """An :class:`AnthropicInterpreter` on the local server."""

    def make(**config: Any) -> AnthropicInterpreter:
        return AnthropicInterpreter.from_providers(anthropic_providers(**config))

    return make
