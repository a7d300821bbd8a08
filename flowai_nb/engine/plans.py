"""Plan storage: versioned plans with status history."""

from __future__ import annotations

from typing import Any

from ..storage.base import KeyValueStore, Op
from ._util import canonical, digest, now_ms
from .errors import PlanNotFoundError

__all__ = ["PlanStore", "PLAN_STATUSES"]

PLAN_STATUSES = ("draft", "pending_approval", "approved", "rejected", "executing", "executed",
                 "failed", "needs_reconciliation")


def _split(plan_id: str) -> tuple[str, int | None]:
    base, sep, version = plan_id.rpartition("@v")
    if sep and version.isdigit():
        return base, int(version)
    return plan_id, None


class PlanStore:
    """Plans of one tenant, under ``plans/<base id>/v<n>``.

    A plan's public id is ``"<base>@v<n>"``. Storing under an existing base id
    creates version ``n + 1``; earlier versions are kept.
    """

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def _versions(self, base: str) -> list[int]:
        return sorted(int(k.rsplit("/v", 1)[1]) for k in self._kv.keys(f"plans/{base}/v"))

    def store(self, *, spec_name: str, body: dict[str, Any], actions: list[dict[str, Any]],
              base_id: str | None, author: str, run_id: str, thread_id: str) -> dict[str, Any]:
        """Store a new draft (a new version when ``base_id`` exists); return the record."""
        base = base_id or f"{spec_name}-{digest(canonical(body), size=8)}"
        base = _split(base)[0]
        if "/" in base or not base:
            raise ValueError(f"plan_id {base_id!r} must be non-empty and contain no '/'")
        versions = self._versions(base)
        version = (versions[-1] + 1) if versions else 1
        now = now_ms()
        record = {
            "id": f"{base}@v{version}", "baseId": base, "version": version, "plan": spec_name,
            "status": "draft", "body": body, "actions": actions,
            "history": [{"status": "draft", "ts": now, "note": None}],
            "createdAt": now, "updatedAt": now, "author": author, "runId": run_id,
            "threadId": thread_id,
        }
        if not self._kv.add(f"plans/{base}/v{version}", record):
            raise RuntimeError(f"plan {base}@v{version} was stored concurrently; store it again")
        return record

    def get(self, plan_id: str) -> dict[str, Any]:
        """A plan by ``base@vN`` id, or the latest version for a base id."""
        base, version = _split(plan_id)
        if version is None:
            versions = self._versions(base)
            if not versions:
                raise PlanNotFoundError(f"no plan {plan_id!r} for this tenant")
            version = versions[-1]
        record = self._kv.get(f"plans/{base}/v{version}")
        if record is None:
            raise PlanNotFoundError(f"no plan {plan_id!r} for this tenant")
        return record

    @staticmethod
    def _claim_key(plan_id: str) -> str:
        return f"plan-executions/{plan_id}"

    def execution_owner(self, plan_id: str) -> str | None:
        """The run that claimed ``plan_id`` for execution, or ``None``."""
        owner: str | None = self._kv.get(self._claim_key(plan_id))
        return owner

    def claim_op(self, plan_id: str, run_id: str) -> Op:
        """The guard that reserves ``plan_id`` for execution by ``run_id``: an ``add``, so
        of all runs ever writing it in a transaction exactly one wins."""
        return ("add", self._claim_key(plan_id), run_id)

    @property
    def kv(self) -> KeyValueStore:
        """The store the plans live in."""
        return self._kv

    def status_ops(self, plan_id: str, status: str, note: Any = None, *,
                   record: dict[str, Any] | None = None,
                   then: tuple[tuple[str, Any], ...] = (),
                   fields: dict[str, Any] | None = None) -> list[Op]:
        """The store writes that move a plan to ``status`` (appending to its history),
        then through each ``(status, note)`` of ``then``, and set ``fields`` of its record
        (such as ``dispatchedActions``): one write of the record.

        ``record`` is the plan as just read (saves reading it again).
        """
        steps = ((status, note), *then)
        for step, _ in steps:
            if step not in PLAN_STATUSES:
                raise ValueError(f"plan status must be one of {PLAN_STATUSES}; got {step!r}")
        record = dict(record) if record is not None else self.get(plan_id)
        record.update(fields or {})
        now = now_ms()
        record["history"] = [*record["history"],
                             *({"status": s, "ts": now, "note": n} for s, n in steps)]
        record["status"] = steps[-1][0]
        record["updatedAt"] = now
        return [("put", f"plans/{record['baseId']}/v{record['version']}", record)]

    def set_status(self, plan_id: str, status: str, note: Any = None) -> None:
        """Move a plan to ``status``, appending to its history."""
        self._kv.write(self.status_ops(plan_id, status, note))

    def list(self, *, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Every plan version, oldest first, optionally for one thread."""
        plans = [v for _, v in self._kv.items("plans/")]
        if thread_id is not None:
            plans = [p for p in plans if p.get("threadId") == thread_id]
        return sorted(plans, key=lambda p: (p["createdAt"], p["id"]))
