"""Plan storage: plans versioned per thread, with status history.

Store layout (all keys under the tenant's scope):

- ``thread-plans/<thread>/<base>/v<n>``: one plan version (the record).
- ``plan-ids/<base>/<thread>``: ``{"threadId", "latest"}``, so a lookup by id alone
  reads only the threads that have that id.
- ``plan-executions/<thread>/<base>@v<n>``: the run that claimed the plan's execution.

Stores written before plans were per thread (``plans/<base>/v<n>``) are moved to this
layout when a :class:`PlanStore` opens them, each plan into the thread its record names.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..storage.base import KeyValueStore, Op
from ._util import canonical, digest, now_ms
from .errors import AmbiguousPlanError, PlanNotFoundError

__all__ = ["PlanStore", "PLAN_STATUSES", "idempotency_key"]

PLAN_STATUSES = ("draft", "pending_approval", "approved", "rejected", "executing", "executed",
                 "failed", "needs_reconciliation")


def _split(plan_id: str) -> tuple[str, int | None]:
    base, sep, version = plan_id.rpartition("@v")
    if sep and version.isdigit():
        return base, int(version)
    return plan_id, None


def _record_key(thread_id: str, base: str, version: int) -> str:
    return f"thread-plans/{thread_id}/{base}/v{version}"


def _index_key(base: str, thread_id: str) -> str:
    return f"plan-ids/{base}/{thread_id}"


def idempotency_key(thread_id: str, plan_id: str, index: int) -> str:
    """The idempotency key of action ``index`` of plan ``plan_id`` (``"<base>@v<n>"``) in
    ``thread_id``: ``"<thread>/<base>@v<n>#<index>"``, unique across the tenant (a thread
    id never contains ``/``)."""
    return f"{thread_id}/{plan_id}#{index}"


class PlanStore:
    """The plans of one tenant, versioned per thread.

    A plan's public id is ``"<base>@v<n>"``. Storing a base id that the thread already
    has creates version ``n + 1`` (earlier versions are kept); the same base id in
    another thread starts at ``v1``. Every method takes the ``thread_id`` the plan
    lives in; :meth:`get` also finds a plan by id alone when one thread has it.
    """

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv
        _migrate(kv)

    def store(self, *, spec_name: str, body: dict[str, Any], actions: list[dict[str, Any]],
              base_id: str | None, author: str, run_id: str, thread_id: str) -> dict[str, Any]:
        """Store a new draft (a new version when the thread has ``base_id``); return it.

        Raises:
            ValueError: ``base_id`` or ``thread_id`` is empty or contains ``/``.
            RuntimeError: another run stored the same version at the same moment.
        """
        base = base_id or f"{spec_name}-{digest(canonical(body), size=8)}"
        base = _split(base)[0]
        if "/" in base or not base:
            raise ValueError(f"plan_id {base_id!r} must be non-empty and contain no '/'")
        _check_thread(thread_id)
        index = self._kv.get(_index_key(base, thread_id))
        version = index["latest"] + 1 if index else 1
        now = now_ms()
        record = {
            "id": f"{base}@v{version}", "baseId": base, "version": version, "plan": spec_name,
            "status": "draft", "body": body, "actions": actions,
            "history": [{"status": "draft", "ts": now, "note": None}],
            "createdAt": now, "updatedAt": now, "author": author, "runId": run_id,
            "threadId": thread_id,
        }
        if not self._kv.write(self.add_ops(record)):
            raise RuntimeError(f"plan {base}@v{version} was stored concurrently in thread "
                               f"{thread_id!r}; store it again")
        return record

    @staticmethod
    def add_ops(record: dict[str, Any]) -> list[Op]:
        """The store writes that add a new plan version ``record`` (fails if it exists)."""
        thread, base, version = record["threadId"], record["baseId"], record["version"]
        return [("add", _record_key(thread, base, version), record),
                ("put", _index_key(base, thread), {"threadId": thread, "latest": version})]

    def get(self, plan_id: str, *, thread_id: str | None = None) -> dict[str, Any]:
        """A plan by ``base@vN`` id, or the latest version for a base id.

        With ``thread_id`` the plan of that thread; without, the plan of the one
        thread that has this id.

        Raises:
            PlanNotFoundError: no such plan (in that thread).
            AmbiguousPlanError: no ``thread_id`` given and several threads have this id.
        """
        if not isinstance(plan_id, str) or not (thread_id is None or isinstance(thread_id, str)):
            raise TypeError(f"plan_id and thread_id must be strings; got plan_id={plan_id!r}, "
                            f"thread_id={thread_id!r}")
        base, version = _split(plan_id)
        if thread_id is None:
            thread_id = self._only_thread(plan_id, base, version)
        if version is None:
            index = self._kv.get(_index_key(base, thread_id))
            version = index["latest"] if index else None
        record = self._kv.get(_record_key(thread_id, base, version)) if version else None
        if record is None:
            raise PlanNotFoundError(f"no plan {plan_id!r} in thread {thread_id!r}")
        return record

    def resolve(self, plan_id: str, *, thread_id: str) -> dict[str, Any]:
        """The plan a run in ``thread_id`` means by ``plan_id``: that thread's plan, else
        (a plan stored by an earlier run in another thread) the one thread that has it.

        Raises:
            PlanNotFoundError: no thread has the plan.
            AmbiguousPlanError: ``thread_id`` has no such plan and several other threads do.
        """
        try:
            return self.get(plan_id, thread_id=thread_id)
        except PlanNotFoundError:
            pass
        try:
            return self.get(plan_id)
        except AmbiguousPlanError as exc:
            raise AmbiguousPlanError(
                f"thread {thread_id!r} has no plan {plan_id!r} and {len(exc.threads)} other "
                f"threads have one ({_names(exc.threads)}); store the plan in this thread or "
                f"run in the thread that has it", threads=exc.threads) from None

    def _only_thread(self, plan_id: str, base: str, version: int | None) -> str:
        threads = [entry["threadId"] for _, entry in self._kv.items(f"plan-ids/{base}/")]
        if version is not None and len(threads) > 1:
            threads = [t for t in threads if _record_key(t, base, version) in self._kv]
        if not threads:
            raise PlanNotFoundError(f"no plan {plan_id!r} for this tenant")
        if len(threads) > 1:
            raise AmbiguousPlanError(
                f"plan id {plan_id!r} exists in {len(threads)} threads ({_names(threads)}); "
                f"pass thread_id= one of them", threads=threads)
        return threads[0]

    @staticmethod
    def _claim_key(plan_id: str, thread_id: str) -> str:
        return f"plan-executions/{thread_id}/{plan_id}"

    def execution_owner(self, plan_id: str, *, thread_id: str) -> str | None:
        """The run that claimed plan ``plan_id`` of ``thread_id`` for execution, or ``None``."""
        owner: str | None = self._kv.get(self._claim_key(plan_id, thread_id))
        return owner

    def claim_op(self, plan_id: str, run_id: str, *, thread_id: str) -> Op:
        """The guard that reserves plan ``plan_id`` of ``thread_id`` for execution by
        ``run_id``: an ``add``, so of all runs ever writing it in a transaction exactly one
        wins."""
        return ("add", self._claim_key(plan_id, thread_id), run_id)

    @property
    def kv(self) -> KeyValueStore:
        """The store the plans live in."""
        return self._kv

    def status_ops(self, plan_id: str, status: str, note: Any = None, *,
                   thread_id: str | None = None, record: dict[str, Any] | None = None,
                   then: tuple[tuple[str, Any], ...] = (),
                   fields: dict[str, Any] | None = None) -> list[Op]:
        """The store writes that move plan ``plan_id`` of ``thread_id`` to ``status``
        (appending to its history), then through each ``(status, note)`` of ``then``, and
        set ``fields`` of its record (such as ``dispatchedActions``): one write of the
        record.

        ``record`` is the plan as just read (saves reading it again; its ``threadId``
        is the thread then).
        """
        steps = ((status, note), *then)
        for step, _ in steps:
            if step not in PLAN_STATUSES:
                raise ValueError(f"plan status must be one of {PLAN_STATUSES}; got {step!r}")
        record = dict(record) if record is not None else self.get(plan_id, thread_id=thread_id)
        record.update(fields or {})
        now = now_ms()
        record["history"] = [*record["history"],
                             *({"status": s, "ts": now, "note": n} for s, n in steps)]
        record["status"] = steps[-1][0]
        record["updatedAt"] = now
        key = _record_key(record["threadId"], record["baseId"], record["version"])
        return [("put", key, record)]

    def set_status(self, plan_id: str, status: str, note: Any = None, *,
                   thread_id: str) -> None:
        """Move a plan to ``status``, appending to its history."""
        self._kv.write(self.status_ops(plan_id, status, note, thread_id=thread_id))

    def list(self, *, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Every plan version, oldest first, optionally for one thread."""
        prefix = "thread-plans/" if thread_id is None else f"thread-plans/{thread_id}/"
        plans = [v for _, v in self._kv.items(prefix)]
        return sorted(plans, key=lambda p: (p["createdAt"], p["id"]))

    def __repr__(self) -> str:
        return f"<PlanStore in {self._kv!r}>"


def _check_thread(thread_id: Any) -> None:
    if not isinstance(thread_id, str) or not thread_id or "/" in thread_id:
        raise ValueError(f"thread_id must be a non-empty string without '/'; got {thread_id!r}")


def _names(threads: list[str], shown: int = 5) -> str:
    names = ", ".join(repr(t) for t in threads[:shown])
    return names + (f" and {len(threads) - shown} more" if len(threads) > shown else "")


def _migrate(kv: KeyValueStore) -> None:
    """Move plans stored before plans were per thread (``plans/<base>/v<n>``, with their
    ``plan-executions/<base>@v<n>`` claims) into the per-thread layout.

    One transaction per base id and thread; a transaction that finds its plans already
    moved (by another process opening the same store) changes nothing.
    """
    groups: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for key, record in kv.items("plans/"):
        if isinstance(record, dict) and isinstance(record.get("baseId"), str) \
                and isinstance(record.get("version"), int) and key.count("/") == 2:
            thread = record.get("threadId")
            if not isinstance(thread, str) or not thread or "/" in thread:
                thread = record["threadId"] = "legacy"
            groups[(record["baseId"], thread)].append((key, record))
    for (base, thread), rows in groups.items():
        index = kv.get(_index_key(base, thread))
        latest = max([record["version"] for _, record in rows]
                     + ([index["latest"]] if index else []))
        ops: list[Op] = [("put", _index_key(base, thread), {"threadId": thread, "latest": latest})]
        for key, record in rows:
            ops += [("add", _record_key(thread, base, record["version"]), record),
                    ("delete", key, None)]
            claim = kv.get(f"plan-executions/{record['id']}")
            if claim is not None:
                ops += [("put", PlanStore._claim_key(record["id"], thread), claim),
                        ("delete", f"plan-executions/{record['id']}", None)]
        kv.write(ops)
