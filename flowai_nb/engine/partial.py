"""Partial plan approvals: which of a plan's actions run, and with which payloads.

``respond_to_approval(id, "approve", partial={"actions": [...]})`` lists the
actions to run. An entry is an action index (run that action as stored) or
``{"index": i, "payload": {...}}`` (run action ``i`` with an edited payload;
its kind and references stay). Actions not listed are deselected. An edited
payload is validated with the plan type's own validator
(:meth:`~flowai_nb.authoring.plans.PlanSpec.validate_body`), so it is held to
exactly the rules the planner's plan was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._util import jsonable

if TYPE_CHECKING:
    from ..authoring.plans import PlanSpec

__all__ = ["Selection", "select_actions"]


@dataclass(frozen=True)
class Selection:
    """What a plan approval dispatches, and how that differs from the stored plan.

    Attributes:
        actions: ``(index, action)`` pairs to dispatch, in plan order; an edited
            action carries its new payload.
        edited: ``{"index", "kind", "before", "after"}`` per action whose payload changed.
        deselected: indexes of the actions left out.
    """

    actions: list[tuple[int, dict[str, Any]]]
    edited: list[dict[str, Any]]
    deselected: list[int]

    def note(self) -> dict[str, Any] | None:
        """The ``approved`` history note: what was edited and deselected (``None``: neither)."""
        if not self.edited and not self.deselected:
            return None
        return {"edited": self.edited, "deselected": self.deselected}


def _expected(count: int) -> str:
    return (f"expected {{'actions': [...]}} (no other keys) whose entries are indexes in "
            f"0..{count - 1} or {{'index': i, 'payload': {{...}}}}, at least one, each index once")


def select_actions(plan: Mapping[str, Any], partial: Any, spec: PlanSpec | None = None, *,
                   validate: bool = True) -> Selection:
    """The actions an approval of ``plan`` with ``partial`` dispatches.

    Args:
        plan: a stored plan (``id``) or a plan approval's payload (``planId``), with its
            ``actions`` and ``body``.
        partial: ``None`` (every action, as stored) or ``{"actions": [entries]}``.
        spec: the plan's type; needed to validate edited payloads.
        validate: check edited payloads against ``spec`` (an edit with no ``spec`` to check
            it is refused). ``False`` only to display a decision already recorded.

    Raises:
        ValueError: naming the entry, and for an edited payload the action index, the
            field and what was expected; nothing is applied.
    """
    actions = [a for a in plan.get("actions") or [] if isinstance(a, dict)]
    if partial is None:
        return Selection(list(enumerate(actions)), [], [])
    count = len(actions)
    plan_id = plan.get("planId") or plan.get("id") or plan.get("plan")
    where = f"partial approval of plan {plan_id!r}"
    try:
        partial = jsonable(partial)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    entries = partial.get("actions") if isinstance(partial, dict) else None
    if not isinstance(entries, list) or not entries or set(partial) != {"actions"}:
        raise ValueError(f"{where}: {_expected(count)}; got {_short(partial)}")
    chosen: dict[int, dict[str, Any] | None] = {}
    for k, entry in enumerate(entries):
        index = entry["index"] if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and set(entry) != {"index", "payload"}:
            raise ValueError(f"{where}: actions[{k}] = {_short(entry)} needs exactly the keys "
                             f"'index' and 'payload'; {_expected(count)}")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            raise ValueError(f"{where}: actions[{k}] names {_short(index)}, not an action; "
                             f"{_expected(count)}; got {_short(partial)}")
        if index in chosen:
            raise ValueError(f"{where}: action {index} is listed twice; {_expected(count)}")
        chosen[index] = _edited_fields(where, index, actions[index], entry["payload"]) \
            if isinstance(entry, dict) else None
    edits = {i: p for i, p in chosen.items() if p is not None}
    if edits and validate:
        edits = {i: _validated(where, plan, spec, i, p) for i, p in edits.items()}
    selected, edited = [], []
    for i, action in enumerate(actions):
        if i not in chosen:
            continue
        after = edits.get(i)
        if after is not None and after != action.get("payload"):
            edited.append({"index": i, "kind": action.get("kind"),
                           "before": action.get("payload"), "after": after})
            action = {**action, "payload": after}
        selected.append((i, action))
    return Selection(selected, edited, [i for i in range(count) if i not in chosen])


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _edited_fields(where: str, index: int, action: dict[str, Any], payload: Any) -> dict[str, Any]:
    """An edited payload without ``kind`` / ``references`` (which may be repeated, not changed)."""
    if not isinstance(payload, dict):
        raise ValueError(f"{where}: the edited payload of action {index} must be a JSON object "
                         f"of the action's fields; got {type(payload).__name__} {_short(payload)}")
    fields = dict(payload)
    for key in ("kind", "references"):
        if key in fields:
            value = fields.pop(key)
            stored = action.get(key) if key == "kind" else action.get(key) or []
            if value != stored:
                raise ValueError(f"{where}: action {index} keeps its {key} ({_short(stored)}); "
                                 f"an edit changes only its payload, got {key}={_short(value)}")
    return fields


def _validated(where: str, plan: Mapping[str, Any], spec: PlanSpec | None, index: int,
               payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` checked as action ``index`` of the plan's body, in the plan type's form."""
    body = plan.get("body")
    raw = body.get("actions") if isinstance(body, dict) else None
    if spec is None or not isinstance(raw, list) or index >= len(raw):
        raise ValueError(f"{where}: cannot check the edited payload of action {index}: this "
                         f"runtime does not declare plan type {plan.get('plan')!r}")
    original = raw[index] if isinstance(raw[index], dict) else {}
    action = {"kind": original.get("kind"), **payload}
    if "references" in original:
        action["references"] = original["references"]
    edited = {**body, "actions": [*raw[:index], action, *raw[index + 1:]]}
    what = f"{where}: the edited payload of action {index} ({original.get('kind')}) is invalid"
    try:
        _, actions = spec.validate_body(edited)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    after = actions[index]["payload"]
    unknown = sorted(set(payload) - set(after))
    if unknown:  # the plan type drops fields it does not declare: a typo would vanish
        raise ValueError(f"{what}: unknown field(s) {unknown}; the plan type declares no such "
                         f"field (fields given that it kept: {sorted(set(payload) & set(after))})")
    return after
