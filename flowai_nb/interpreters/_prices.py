"""Claude prices in USD per million tokens, and the cost of one model turn.

Prices change: the table below is what Anthropic published for the standard
tier (5-minute cache writes) as of November 2026. Override or extend it per
runtime with ``providers={"anthropic": {"prices": {model_id: {"input": ...,
"output": ..., "cacheRead": ..., "cacheWrite": ...}}}}``. A model with no
known price gets ``cost_usd=None`` rather than a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PRICES", "price_for", "cost_usd", "check_prices"]

_PRICE_KEYS = ("input", "output", "cacheRead", "cacheWrite")


def _p(input: float, output: float, cache_read: float, cache_write: float) -> dict[str, float]:
    return {"input": input, "output": output, "cacheRead": cache_read, "cacheWrite": cache_write}


PRICES: dict[str, dict[str, float]] = {
    "claude-fable-5-1": _p(10.0, 50.0, 0.25, 12.5),
    "claude-fable-5": _p(10.0, 50.0, 1.0, 12.5),
    "claude-opus-5": _p(5.0, 25.0, 0.5, 6.25),
    "claude-opus-4-8": _p(5.0, 25.0, 0.5, 6.25),
    "claude-opus-4-7": _p(5.0, 25.0, 0.5, 6.25),
    "claude-opus-4-6": _p(5.0, 25.0, 0.5, 6.25),
    "claude-opus-4-5": _p(5.0, 25.0, 0.5, 6.25),
    "claude-sonnet-5-5": _p(2.0, 10.0, 0.1, 2.5),
    "claude-sonnet-5": _p(2.0, 10.0, 0.2, 2.5),
    "claude-sonnet-4-6": _p(3.0, 15.0, 0.3, 3.75),
    "claude-sonnet-4-5": _p(3.0, 15.0, 0.3, 3.75),
    "claude-haiku-4-5": _p(1.0, 5.0, 0.1, 1.25),
}
"""Built-in price table: model id -> USD per million tokens."""


def price_for(model: str, overrides: Mapping[str, Mapping[str, Any]] | None = None
              ) -> dict[str, float] | None:
    """The price entry for ``model``, or ``None`` when unknown.

    ``overrides`` win over :data:`PRICES`. A dated id such as
    ``claude-haiku-4-5-20251001`` uses the entry of its undated alias.
    """
    for table in (overrides or {}, PRICES):
        if model in table:
            return dict(table[model])
    for table in (overrides or {}, PRICES):
        # Longest alias first, so "claude-sonnet-5-5-2026..." is not priced as "claude-sonnet-5".
        for alias in sorted(table, key=len, reverse=True):
            rest = model[len(alias):]
            if model.startswith(alias + "-") and rest[1:].isdigit():
                return dict(table[alias])
    return None


def cost_usd(price: Mapping[str, float] | None, *, input_tokens: int, output_tokens: int,
             cache_read_tokens: int = 0, cache_write_tokens: int = 0) -> float | None:
    """The USD cost of one turn; ``None`` when ``price`` is ``None``.

    ``input_tokens`` are the uncached input tokens, as the Messages API reports
    them; cache reads and writes are priced separately.
    """
    if price is None:
        return None
    total = (input_tokens * price["input"] + output_tokens * price["output"]
             + cache_read_tokens * price.get("cacheRead", price["input"])
             + cache_write_tokens * price.get("cacheWrite", price["input"]))
    return round(total / 1_000_000, 10)


def check_prices(prices: Any) -> dict[str, dict[str, float]]:
    """Validate a ``prices`` override; ``ValueError`` naming the bad entry otherwise."""
    if not isinstance(prices, Mapping):
        raise ValueError(f"anthropic 'prices' must map model ids to price dicts; got {prices!r}")
    out: dict[str, dict[str, float]] = {}
    for model, entry in prices.items():
        if not isinstance(entry, Mapping) or not {"input", "output"} <= set(entry):
            raise ValueError(
                f"anthropic price for {model!r} must be a dict with at least 'input' and 'output' "
                f"(USD per million tokens; optional 'cacheRead', 'cacheWrite'); got {entry!r}")
        unknown = set(entry) - set(_PRICE_KEYS)
        if unknown:
            raise ValueError(f"anthropic price for {model!r} has unknown keys {sorted(unknown)}; "
                             f"expected {list(_PRICE_KEYS)}")
        try:
            out[str(model)] = {k: float(v) for k, v in entry.items()}
        except (TypeError, ValueError):
            raise ValueError(f"anthropic price for {model!r} must hold numbers; got {entry!r}"
                             ) from None
    return out
