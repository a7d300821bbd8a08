"""Bad input found at the earliest point, with an error naming the value (issue #12 item 7)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import flowai_nb as fa

from .conftest import build_runtime, build_spec


def test_a_scripted_provider_config_that_is_not_a_mapping_is_named() -> None:
    spec = build_spec()
    spec = spec.model_copy(update={"providers": {"scripted": "x"}})
    with pytest.raises(ValueError, match=r"providers\['scripted'\] must be a mapping; got 'x'"):
        fa.create_runtime(spec, interpreter="scripted")


def test_scripted_provider_keys_are_checked() -> None:
    spec = build_spec().model_copy(update={"providers": {"scripted": {"script": {}}}})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['script'\]"):
        fa.create_runtime(spec, interpreter="scripted")


def test_a_script_for_an_unknown_agent_is_an_error_at_create_runtime() -> None:
    with pytest.raises(ValueError, match=r"unknown agent\(s\) \['anlyst'\].*'analyst'"):
        build_runtime({"anlyst": [{"text": "hi"}]})


def test_a_prompt_script_for_an_unknown_agent_is_an_error_at_query() -> None:
    rt = build_runtime()
    with pytest.raises(ValueError, match=r"script scripts unknown agent\(s\) \['nobody'\]"):
        rt.query('{"script": {"nobody": [{"text": "x"}]}}', "t")


def test_a_partial_approval_with_extra_keys_is_refused(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)

    async def main() -> None:
        stream = rt.query("x", "t")
        async for event in stream:
            if event["type"] == "approval-required":
                with pytest.raises(ValueError, match="no other keys.*'x': 1"):
                    rt.respond_to_approval(event["approvalId"], "approve", None,
                                           {"actions": [0], "x": 1})
                assert rt.pending_approvals()  # nothing half-applied: still pending
                await rt.respond_to_approval(event["approvalId"], "approve")

    asyncio.run(main())
    assert len(dispatcher.calls) == 1


def test_feedback_and_partial_that_are_not_json_are_named_and_nothing_is_recorded(
        dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    deep: list = []
    inner = deep
    for _ in range(1000):
        inner.append([])
        inner = inner[0]

    async def main() -> None:
        stream = rt.query("x", "t")
        async for event in stream:
            if event["type"] == "approval-required":
                gate = event["approvalId"]
                with pytest.raises(ValueError, match=r"feedback must be JSON data.*bytes.* at \$"):
                    rt.respond_to_approval(gate, "reject", b"too late")
                with pytest.raises(ValueError, match=r"partial must be JSON data.*at \$\.why"):
                    rt.respond_to_approval(gate, "revise", "see why", {"why": {1, 2}})
                with pytest.raises(ValueError, match="partial must be JSON data.*nested deeper"):
                    rt.respond_to_approval(gate, "revise", None, deep)
                assert [p["approvalId"] for p in rt.pending_approvals()] == [gate]
                assert rt.get_approval(gate)["decision"] is None
                await rt.respond_to_approval(gate, "approve", {"note": "ok", "score": 1.5})

    asyncio.run(main())
    assert len(dispatcher.calls) == 1


@pytest.mark.parametrize("url", ["sqlite:///no/such/retail.db", "duckdb:///missing.duckdb"])
def test_a_missing_target_database_file_is_an_error_at_create_runtime(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_runtime(target_database_url=url)
