"""A target's password never reaches the model, an event, a trace, a widget, a log or an
exception (SPEC §16), checked against a real PostgreSQL server that refuses a wrong password."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback

import pytest

import flowai_nb as fa
from flowai_nb.jupyter.widgets.run_view import RunView

from .conftest import SECRET_ROLE, WRONG_PASSWORD

pytestmark = pytest.mark.postgres

SCRIPT = {"analyst": [
    {"tool": "list_tables", "args": {}},
    {"tool": "run_sql", "args": {"sql": "SELECT 1 AS one"}},
    {"tool": "describe_table", "args": {"table": "orders"}},
    {"tool": "search_catalog", "args": {"query": "orders"}},
    {"text": "could not reach the database"},
]}


def _runtime(url: str) -> fa.Runtime:
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("analyst", model="m", prompt="Analyse.",
                                     toolkits=["catalog", "sql"])],
        providers={"scripted": {"scripts": SCRIPT}})
    return fa.create_runtime(spec, interpreter="scripted", target_database_url=url)


def _wrong_url(server_url: str) -> str:
    host_db = server_url.split("@", 1)[1]
    return f"postgresql://{SECRET_ROLE}:{WRONG_PASSWORD}@{host_db}"


def test_a_wrong_password_never_leaks_from_a_run(password_postgres: str,
                                                 caplog: pytest.LogCaptureFixture,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    url = _wrong_url(password_postgres)
    rt = _runtime(url)
    produced: list[str] = []
    try:
        events = asyncio.run(asyncio.wait_for(rt.run_specialist("analyst", "go").collect(), 120))
        assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "completed"
        errors = [e["error"] for e in events if e["type"] == "tool-result"]
        assert len(errors) == 4 and all(errors), errors
        # the model is told what failed, with the URL but not the password
        assert any("password authentication failed" in e or "Unable to connect" in e
                   for e in errors), errors
        assert any(f"{SECRET_ROLE}:***@" in e for e in errors), errors
        produced.append(json.dumps(events))
        produced.append(json.dumps(rt.get_trace(events[-1]["traceId"])))
        view = RunView.from_events(events)
        produced.append(json.dumps(view.get_state(), default=str))
        produced.append(view._repr_html() + repr(view))
        with pytest.raises(Exception) as caught:  # the data environment itself
            _ = rt.data
        produced.append("".join(traceback.format_exception(caught.value)))
        produced.append(repr(caught.value) + str(caught.value))
        produced.append(repr(rt))
        config = rt.data_environment_config  # the spec side holds it as a secret (SecretStr)
        produced += [repr(config), str(config.model_dump()), config.model_dump_json()]
    finally:
        rt.close()
    out, err = capfd.readouterr()
    produced += [caplog.text, out, err]
    everything = "\n".join(produced)
    assert "password authentication failed" in everything  # the grep saw real failures
    assert WRONG_PASSWORD not in everything


def test_the_right_password_works_and_is_not_shown_either(password_postgres: str) -> None:
    from .conftest import RIGHT_PASSWORD

    host_db = password_postgres.split("@", 1)[1]
    rt = _runtime(f"postgresql://{SECRET_ROLE}:{RIGHT_PASSWORD}@{host_db}")
    try:
        events = asyncio.run(asyncio.wait_for(rt.run_specialist("analyst", "go").collect(), 120))
        sql = [e for e in events if e["type"] == "tool-result" and e["tool"] == "run_sql"][0]
        assert sql["result"]["rows"] == [[1]]
        assert RIGHT_PASSWORD not in json.dumps(events) + repr(rt.data)
    finally:
        rt.close()


