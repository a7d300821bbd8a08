"""Helpers of the contract tests: cite a line of the runtime reference, check signatures.

``runtime-reference.txt`` beside this file is the user's API reference (written
for an earlier package; every name is exported by ``flowai_nb``). Each contract
test cites the line it checks with :func:`cites`, which fails at collection if
the line does not say what the test claims, so a citation cannot drift.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

LINES = Path(__file__).with_name("runtime-reference.txt").read_text().splitlines()

F = TypeVar("F", bound=Callable[..., Any])


def line(number: int) -> str:
    """Line ``number`` (1-based) of the reference."""
    return LINES[number - 1]


def cites(number: int, text: str) -> Callable[[F], F]:
    """Mark a test as checking reference line ``number``, which must contain ``text``."""
    if text not in line(number):
        raise AssertionError(f"reference line {number} is {line(number)!r}; "
                             f"it does not contain {text!r}")

    def mark(test: F) -> F:
        test.reference_line = number  # type: ignore[attr-defined]
        return test

    return mark


_FACTORY = object()


def _parse(signature_line: str) -> tuple[str, list[tuple[str, str, Any]]]:
    """``(name, [(param, kind, default)])`` of a reference signature line.

    kind is ``"positional"`` (before ``/``), ``"normal"`` or ``"keyword"`` (after ``*``);
    default is ``inspect.Parameter.empty`` when required, ``_FACTORY`` for ``<factory>``.
    """
    text = signature_line.replace("<factory>", "_FACTORY_")
    name = text.split("(", 1)[0]
    tree = ast.parse(f"def {text}: pass")
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args

    def default(node: ast.expr | None) -> Any:
        if node is None:
            return inspect.Parameter.empty
        if isinstance(node, ast.Name) and node.id == "_FACTORY_":
            return _FACTORY
        return ast.literal_eval(node)

    out: list[tuple[str, str, Any]] = []
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for i, (arg, node) in enumerate(zip(positional, defaults, strict=True)):
        kind = "positional" if i < len(args.posonlyargs) else "normal"
        out.append((arg.arg, kind, default(node)))
    for arg, node in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append((arg.arg, "keyword", default(node)))
    return name, out


_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "normal",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
}


def assert_function_matches(func: Callable[..., Any], number: int) -> None:
    """``func``'s parameters are the reference signature at line ``number``: same names,
    order, kinds and defaults. Extra parameters are allowed only after them, keyword-only
    and defaulted (flowai_nb additions such as ``approvals=``)."""
    name, wanted = _parse(line(number))
    assert func.__name__ == name, (func.__name__, name)
    params = list(inspect.signature(func).parameters.values())
    got = [(p.name, _KINDS[p.kind], p.default) for p in params[:len(wanted)]]
    assert got == wanted, f"{name}: reference {wanted}, flowai_nb {got}"
    for extra in params[len(wanted):]:
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY, extra
        assert extra.default is not inspect.Parameter.empty, extra


def assert_model_matches(model: type[BaseModel], number: int) -> None:
    """``model``'s fields are the reference constructor at line ``number``: the same wire
    names, in order, each required exactly when the reference says so, with the same
    default (``<factory>``: a default factory)."""
    name, wanted = _parse(line(number))
    assert model.__name__ == name, (model.__name__, name)
    fields = [(f.alias or key, f) for key, f in model.model_fields.items()]
    assert [alias for alias, _ in fields] == [p for p, _, _ in wanted], name
    for (alias, field), (_, kind, default) in zip(fields, wanted, strict=True):
        assert kind == "keyword", (name, alias)
        if default is inspect.Parameter.empty:
            assert field.is_required(), f"{name}.{alias} must be required"
        elif default is _FACTORY:
            assert not field.is_required(), f"{name}.{alias} must have a default"
        else:
            assert not field.is_required() and field.default == default, (name, alias)
