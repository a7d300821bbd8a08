"""Configuration of the ``testing`` interpreter (a fixed mock response)."""

from __future__ import annotations

from ._base import SpecModel

__all__ = ["TestingConfig"]


class TestingConfig(SpecModel):
    """Every model turn answers ``mock_response`` (as several text deltas) plus a usage event."""

    __test__ = False  # not a pytest test class

    mock_response: str
