"""Shared test setup: every test runs offline, with no headless approval default leaking in."""

from __future__ import annotations

import hypothesis  # noqa: F401
import pytest

# hypothesis is imported here, at collection, on purpose: otherwise its pytest plugin
# imports it at the end of a session, and on CPython 3.11 compiling it after tests that
# hit RecursionError (deep values) can fail with "AST constructor recursion depth
# mismatch", which crashes the run's summary.


@pytest.fixture(autouse=True)
def _no_env_approval_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWAI_NB_APPROVAL", raising=False)
