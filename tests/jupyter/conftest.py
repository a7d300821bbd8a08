"""Fixtures for the Jupyter-surface unit tests."""

from __future__ import annotations

from typing import Any

import comm
import pytest

from .fakes import FakeRuntime, RecordingComm


@pytest.fixture(autouse=True)
def recording_comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    """Every widget created in a test gets a RecordingComm."""
    made: list[RecordingComm] = []

    def create(*args: Any, **kwargs: Any) -> RecordingComm:
        made.append(RecordingComm(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(comm, "create_comm", create)
    return made


@pytest.fixture
def fake_runtime() -> FakeRuntime:
    return FakeRuntime()
