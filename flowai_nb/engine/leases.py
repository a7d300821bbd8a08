"""Run leases (SPEC §5.3): who may execute a paused or resumed run right now.

A lease is ``leases/<run id>`` = ``{"owner", "expiresAt"}`` in the tenant store,
written with a store expiry of the lease length, so a lease whose owner stopped
(process killed, loop ended without releasing) disappears by itself. The owner
renews it with a heartbeat while the run lives and deletes it when the run
finishes or its loop goes away.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..storage.base import KeyValueStore, Op
from ._util import now_ms
from .errors import RunLeasedError

__all__ = ["LeaseStore"]


class LeaseStore:
    """Acquire, renew and release run leases in one tenant's store."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    @staticmethod
    def key(run_id: str) -> str:
        """Where a run's lease is stored."""
        return f"leases/{run_id}"

    def acquire(self, run_id: str, owner: str, seconds: float,
                gone: Callable[[Any], bool] = lambda owner: False) -> None:
        """Take the lease, or renew it if ``owner`` holds it (or its holder is ``gone``).

        Raises:
            RunLeasedError: another owner holds a live lease (names it and its expiry).
        """
        ttl = max(1, int(seconds * 1000))
        record = {"owner": owner, "expiresAt": now_ms() + ttl}
        if self._kv.add(self.key(run_id), record, ttl_ms=ttl):
            return
        current = self._kv.get(self.key(run_id))
        if current is None:  # released in between
            if self._kv.add(self.key(run_id), record, ttl_ms=ttl):
                return
            current = self._kv.get(self.key(run_id)) or record
        if current.get("owner") != owner and not gone(current.get("owner")):
            raise _held(run_id, current)
        self._kv.put(self.key(run_id), record, ttl_ms=ttl)

    def renew(self, run_id: str, owner: str, seconds: float) -> bool:
        """Extend ``owner``'s lease; ``False`` if it lost the lease meanwhile."""
        current = self._kv.get(self.key(run_id))
        if current is None or current.get("owner") != owner:
            return False  # released, expired or taken over: never recreate it here
        ttl = max(1, int(seconds * 1000))
        self._kv.put(self.key(run_id), {"owner": owner, "expiresAt": now_ms() + ttl},
                     ttl_ms=ttl)
        return True

    def release_ops(self, run_id: str, owner: str, *, held: bool = False) -> list[Op]:
        """The write that gives the lease up (nothing if ``owner`` does not hold it).

        ``held``: the caller knows ``owner`` holds a live lease (taken or renewed well
        within its length), so the lease is not read first.
        """
        if held:
            return [("delete", self.key(run_id), None)]
        current = self._kv.get(self.key(run_id))
        if current is None or current.get("owner") != owner:
            return []
        return [("delete", self.key(run_id), None)]

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The live lease of a run, or ``None``."""
        return self._kv.get(self.key(run_id))


def _held(run_id: str, lease: dict[str, Any]) -> RunLeasedError:
    expires = lease.get("expiresAt")
    when = (datetime.fromtimestamp(expires / 1000, tz=UTC).isoformat(
        timespec="milliseconds") if isinstance(expires, int) else "unknown")
    return RunLeasedError(
        f"run {run_id} was already resumed by another runtime: it is leased by owner "
        f"{lease.get('owner')!r} until {when} (renewed while that run lives); resume it "
        f"once that process stops or its lease expires",
        owner=lease.get("owner"), expires_at=expires)
