"""Shared test setup: every test runs offline, with no headless approval default leaking in."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_env_approval_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWAI_NB_APPROVAL", raising=False)
