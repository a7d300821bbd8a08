"""Deterministic, layered system prompts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["layered_prompt"]


def _bullets(items: Iterable[Any]) -> str:
    return "\n".join(f"- {str(item).strip()}" for item in items)


def layered_prompt(
    *,
    identity: str | None = None,
    communication: str | None = None,
    operational_rules: Iterable[str] = (),
    domain_knowledge: Mapping[str, Any] | None = None,
    tools: Iterable[Any] = (),
    safety: Iterable[str] = (),
    output_format: str | None = None,
) -> str:
    """Render a system prompt from layers, always in the same order and bytes.

    Layers (empty ones are left out): identity, communication, operational
    rules, domain knowledge (keys sorted; non-string values as sorted JSON),
    tools (names or ``(name, description)`` pairs or objects with ``name``
    and ``description``), safety, output format. Identical input gives
    byte-identical output, so prompt caches stay warm.
    """
    sections: list[tuple[str, str]] = []
    if identity:
        sections.append(("Identity", identity.strip()))
    if communication:
        sections.append(("Communication", communication.strip()))
    rules = list(operational_rules)
    if rules:
        sections.append(("Operational rules", _bullets(rules)))
    if domain_knowledge:
        lines = []
        for key in sorted(domain_knowledge):
            value = domain_knowledge[key]
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            lines.append(f"- {key}: {text.strip()}")
        sections.append(("Domain knowledge", "\n".join(lines)))
    tool_lines = []
    for tool in tools:
        if isinstance(tool, str):
            tool_lines.append(f"- {tool}")
        elif isinstance(tool, tuple) and len(tool) == 2:
            tool_lines.append(f"- {tool[0]}: {tool[1]}")
        else:
            tool_lines.append(f"- {tool.name}: {getattr(tool, 'description', '')}".rstrip(": "))
    if tool_lines:
        sections.append(("Tools", "\n".join(tool_lines)))
    safety_rules = list(safety)
    if safety_rules:
        sections.append(("Safety", _bullets(safety_rules)))
    if output_format:
        sections.append(("Output format", output_format.strip()))
    return "\n\n".join(f"# {title}\n{body}" for title, body in sections)
