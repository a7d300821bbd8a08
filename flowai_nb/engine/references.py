"""Reference storage: content-addressed, schema-checked, tenant-scoped, with expiry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..authoring.references import ReferenceSpec
from ..storage.base import KeyValueStore
from ._util import canonical, digest, jsonable, now_ms
from .errors import ReferenceExpiredError, ReferenceNotFoundError

__all__ = ["ReferenceStore", "parse_envelope", "default_glimpse", "BUILTIN_REFERENCE_KINDS"]

BUILTIN_REFERENCE_KINDS = ("tool_result", "sql_result")
"""Kinds the engine itself stores (large tool results, large SQL results); no schema."""


def parse_envelope(reference: Any) -> tuple[str, str]:
    """``(kind, id)`` from an envelope mapping or a ``"kind:id"`` string."""
    if isinstance(reference, Mapping) and "kind" in reference and "id" in reference:
        return str(reference["kind"]), str(reference["id"])
    if isinstance(reference, str) and ":" in reference:
        kind, _, ref_id = reference.partition(":")
        return kind, ref_id
    raise ValueError(
        f"expected a reference envelope {{'kind', 'id', ...}} or 'kind:id'; got {reference!r}"
    )


def default_glimpse(payload: Any) -> Any:
    """A small summary of a value, for references stored without a glimpse."""
    if isinstance(payload, list):
        return {"type": "list", "length": len(payload), "head": payload[:3]}
    if isinstance(payload, dict):
        keys = sorted(payload)
        return {"type": "object", "keys": keys[:20], "size": len(canonical(payload))}
    text = payload if isinstance(payload, str) else canonical(payload)
    return {"type": type(payload).__name__, "preview": text[:200], "size": len(text)}


class ReferenceStore:
    """Creates and resolves references for one tenant.

    Ids are content-addressed per tenant: the same value of the same kind gets
    the same id. Envelope and payload are stored separately, so
    :meth:`glimpse` never loads the payload.
    """

    def __init__(self, kv: KeyValueStore, specs: Mapping[str, ReferenceSpec],
                 tenant_key: str) -> None:
        self._kv = kv
        self._specs = dict(specs)
        self._tenant = tenant_key

    def _spec(self, reference: Any) -> tuple[str, ReferenceSpec | None]:
        if isinstance(reference, ReferenceSpec):
            return reference.name, self._specs.get(reference.name, reference)
        if isinstance(reference, str):
            if reference in self._specs:
                return reference, self._specs[reference]
            if reference in BUILTIN_REFERENCE_KINDS:
                return reference, None
        known = sorted(self._specs) + list(BUILTIN_REFERENCE_KINDS)
        raise ValueError(f"unknown reference kind {reference!r}; declared kinds: {known}")

    def create(self, reference: Any, value: Any, glimpse: Any = None, *,
               fallback: Any = default_glimpse) -> dict[str, Any]:
        """Validate and store ``value``; return its envelope.

        The spec's glimpse callback (if any, and no explicit ``glimpse``) runs
        once, on the validated value, before storing; with neither, the glimpse
        is ``fallback(payload)``.
        """
        kind, spec = self._spec(reference)
        if spec is not None:
            validated, payload = spec.validate_value(value)
        else:
            validated, payload = value, jsonable(value)
        ref_id = digest(self._tenant, kind, canonical(payload), size=24)
        existing = self._kv.get(f"refs/{kind}/{ref_id}")
        if existing is not None and glimpse is None:
            return existing
        if glimpse is None:
            callback = spec.glimpse_callback if spec is not None else None
            glimpse = callback(validated) if callback else fallback(payload)
        ttl = spec.ttl_ms if spec is not None else None
        created = now_ms()
        envelope = {"kind": kind, "id": ref_id, "glimpse": jsonable(glimpse),
                    "createdAt": created, "expiresAt": created + ttl if ttl else None}
        self._kv.put(f"refdata/{kind}/{ref_id}", payload, ttl_ms=ttl)
        self._kv.put(f"refs/{kind}/{ref_id}", envelope, ttl_ms=ttl)
        self._kv.put(f"refmeta/{kind}/{ref_id}", {"expiresAt": envelope["expiresAt"]})
        return envelope

    def _missing(self, kind: str, ref_id: str) -> Exception:
        meta = self._kv.get(f"refmeta/{kind}/{ref_id}")
        if meta and meta.get("expiresAt") and meta["expiresAt"] <= now_ms():
            return ReferenceExpiredError(
                f"reference {kind}:{ref_id} expired at {meta['expiresAt']} (ttl passed)"
            )
        return ReferenceNotFoundError(f"no reference {kind}:{ref_id} for this tenant")

    def resolve(self, reference: Any) -> Any:
        """The stored payload (JSON form) of a reference."""
        kind, ref_id = parse_envelope(reference)
        payload = self._kv.get(f"refdata/{kind}/{ref_id}")
        if payload is None:
            raise self._missing(kind, ref_id)
        return payload

    def envelope(self, reference: Any) -> dict[str, Any]:
        """The stored envelope of a reference."""
        kind, ref_id = parse_envelope(reference)
        envelope = self._kv.get(f"refs/{kind}/{ref_id}")
        if envelope is None:
            raise self._missing(kind, ref_id)
        return envelope

    def glimpse(self, reference: Any) -> Any:
        """The cached glimpse, without loading the payload."""
        return self.envelope(reference)["glimpse"]

    def list(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The envelopes of the live (unexpired) references, of one kind or all, newest first."""
        now = now_ms()
        found = [env for _, env in self._kv.items(f"refs/{kind}/" if kind else "refs/")
                 if not env.get("expiresAt") or env["expiresAt"] > now]
        return sorted(found, key=lambda env: (-env["createdAt"], env["kind"], env["id"]))
