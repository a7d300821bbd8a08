"""Studio over the run journal: runs of another process show up and stream live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from flowai_nb.studio.demo import ORDERS, PROMPT

REPO = Path(__file__).resolve().parents[2]

_OTHER = textwrap.dedent("""
    import asyncio, sys
    from flowai_nb.studio.demo import make_runtime, PROMPT

    async def main():
        rt = make_runtime(sys.argv[1])
        async for event in rt.query(PROMPT, "from-a-script"):
            if event["type"] == "run-finish":
                print("finished", event["status"], flush=True)
        rt.close()

    asyncio.run(main())
""")


def _sse(studio, path, headers=None, until=lambda events: False):
    events, ids = [], []
    with studio.client.stream("GET", f"/api/workspaces/lisbon{path}",
                              headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("id:"):
                ids.append(line[3:].strip())
            if line.startswith("data:") and line[5:].strip().startswith("["):
                events.extend(json.loads(line[5:]))
                if until(events):
                    break
    return events, ids


def test_a_run_of_another_process_is_discovered_and_followed_live(studio):
    assert studio.api("GET", "").status_code == 200  # Studio now watches the journal
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("FLOWAI_NB_APPROVAL", None)
    other = subprocess.Popen([sys.executable, "-c", _OTHER, str(studio.folder)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            runs = [r for r in studio.api("GET", "/runs").json()["runs"]
                    if r["threadId"] == "from-a-script"]
            if runs or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert runs and runs[0]["prompt"] == PROMPT
        run_id = runs[0]["runId"]
        events, ids = _sse(studio, f"/runs/{run_id}/events",
                           until=lambda ev: ev[-1]["type"] == "approval-required")
        assert events[0]["type"] == "run-start" and int(ids[-1]) == events[-1]["seq"]
        gate = events[-1]
        studio.api("POST", f"/approvals/{gate['approvalId']}", json={"outcome": "approve"})
        rest, _ = _sse(studio, f"/runs/{run_id}/events", {"Last-Event-ID": str(gate["seq"])},
                       until=lambda ev: ev[-1]["type"] == "run-finish")
        assert rest[0]["seq"] > gate["seq"] and rest[-1]["status"] == "completed"
        out, err = other.communicate(timeout=60)
        assert out.strip() == "finished completed", err
        assert len((studio.folder / ORDERS).read_text().splitlines()) == 1
    finally:
        if other.poll() is None:
            other.kill()


def test_a_thread_streams_all_its_runs_and_resumes_by_run_and_seq(studio):
    first = studio.api("POST", "/runs", json={"prompt": PROMPT, "threadId": "t-1"}).json()
    events, ids = _sse(studio, "/threads/t-1/events",
                       until=lambda ev: ev[-1]["type"] == "approval-required")
    studio.api("POST", f"/approvals/{events[-1]['approvalId']}", json={"outcome": "reject"})
    events, ids = _sse(studio, "/threads/t-1/events",
                       until=lambda ev: ev[-1]["type"] == "run-finish")
    assert {e["runId"] for e in events} == {first["runId"]}
    assert ids[-1] == f"{first['runId']}:{events[-1]['seq']}"
    second = studio.api("POST", "/runs", json={"prompt": "And Porto?", "threadId": "t-1"})
    assert second.status_code == 201, second.text
    later, later_ids = _sse(studio, "/threads/t-1/events", {"Last-Event-ID": ids[-1]},
                            until=lambda ev: ev[-1]["type"] in ("run-finish",
                                                                "approval-required"))
    assert later[0]["runId"] == second.json()["runId"] and later[0]["type"] == "run-start"
    bad = studio.client.get("/api/workspaces/lisbon/threads/t-1/events",
                            headers={"Last-Event-ID": "12"})
    assert bad.status_code == 400 and "runId:seq" in bad.json()["error"]
