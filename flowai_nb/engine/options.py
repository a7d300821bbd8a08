"""``RunOptions``: per-run settings passed to ``query``, ``run_specialist`` and ``run_agent``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunOptions"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Settings of one run.

    Args:
        eval_run_id: the eval run this run is a sample of; its trace carries it
            (``runtime.list_traces(eval_run_id=...)``).
        test_case_id: the eval test case this run plays.
        tags: extra ``{str: str}`` labels stored with the run's trace.

    Example::

        runtime.query("hi", "t1", options=RunOptions(tags={"user": "ana"}))
    """

    eval_run_id: str | None = None
    test_case_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("eval_run_id", "test_case_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"RunOptions.{name} must be a non-empty string or None; "
                                 f"got {value!r}")
        if not isinstance(self.tags, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.tags.items()):
            raise ValueError(f"RunOptions.tags must be a mapping of str -> str; got {self.tags!r}")
        object.__setattr__(self, "tags", dict(self.tags))

    def trace_tags(self) -> dict[str, Any]:
        """The ids and labels stored on the run's trace."""
        tags: dict[str, Any] = {}
        if self.eval_run_id is not None:
            tags["evalRunId"] = self.eval_run_id
        if self.test_case_id is not None:
            tags["testCaseId"] = self.test_case_id
        if self.tags:
            tags["tags"] = dict(self.tags)
        return tags

    def to_json(self) -> dict[str, Any]:
        """JSON form (persisted with a paused run)."""
        return {"evalRunId": self.eval_run_id, "testCaseId": self.test_case_id,
                "tags": dict(self.tags)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunOptions:
        """Inverse of :meth:`to_json` (also reads the older ``{"tags": {...}}`` form)."""
        tags = data.get("tags") or {}
        if "evalRunId" in tags or "testCaseId" in tags:  # older snapshots kept ids in tags
            return cls(eval_run_id=tags.get("evalRunId"), test_case_id=tags.get("testCaseId"))
        return cls(eval_run_id=data.get("evalRunId"), test_case_id=data.get("testCaseId"),
                   tags=tags)


def check_options(options: Any) -> RunOptions:
    """``options`` as :class:`RunOptions` (``None`` gives the defaults)."""
    if options is None:
        return RunOptions()
    if isinstance(options, RunOptions):
        return options
    if isinstance(options, Mapping):
        return RunOptions(**options)
    raise TypeError(f"options must be a RunOptions; got {type(options).__name__}")
