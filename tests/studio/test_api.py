"""Studio's JSON API against a real server on the demo app: runs, SSE, approvals, data, evals."""

from __future__ import annotations

import json

from flowai_nb.studio.demo import ORDERS, PROMPT


def _start(studio, prompt=PROMPT, **extra):
    response = studio.api("POST", "/runs", json={"prompt": prompt, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def _text(events):
    return "".join(e["delta"] for e in events if e["type"] == "text-delta" and e["agent"] == "ops")


def test_workspace_lists_agents_and_the_entry_agent(studio):
    info = studio.api("GET", "").json()
    assert info["entryAgent"] == "ops" and info["hasData"] is True
    roles = {a["name"]: a["role"] for a in info["agents"]}
    assert roles == {"ops": "coordinator", "analyst": "specialist", "planner": "planner",
                     "executor": "executor"}
    missing = studio.client.get("/api/workspaces/nowhere")
    assert missing.status_code == 404 and "'lisbon'" in missing.json()["error"]


def test_a_run_streams_waits_for_approval_and_dispatches_once(studio):
    run = _start(studio)
    first = studio.events(run["runId"], until="approval-required")
    assert first[0]["type"] == "run-start" and first[0]["prompt"] == PROMPT
    gate = next(e for e in first if e["type"] == "approval-required")
    pending = studio.api("GET", "/approvals").json()["approvals"]
    assert [a["approvalId"] for a in pending] == [gate["approvalId"]]
    assert not (studio.folder / ORDERS).exists()  # nothing dispatched before the decision

    decided = studio.api("POST", f"/approvals/{gate['approvalId']}", json={"outcome": "approve"})
    assert decided.status_code == 200
    again = studio.api("POST", f"/approvals/{gate['approvalId']}", json={"outcome": "approve"})
    assert again.status_code == 409 and gate["approvalId"] in again.json()["error"]

    rest = studio.events(run["runId"], after=gate["seq"])
    assert rest[0]["seq"] > gate["seq"] and rest[-1]["type"] == "run-finish"
    assert rest[-1]["status"] == "completed"
    assert _text(first + rest).endswith(rest[-1]["text"])
    lines = (studio.folder / ORDERS).read_text().splitlines()
    assert len(lines) == 1 and len(json.loads(lines[0])) == 3

    runs = studio.api("GET", "/runs").json()["runs"]
    assert runs[0]["runId"] == run["runId"] and runs[0]["status"] == "completed"
    threads = studio.api("GET", "/threads").json()["threads"]
    assert threads[0]["threadId"] == run["threadId"] and threads[0]["lastPrompt"] == PROMPT
    trace = studio.api("GET", f"/traces/{runs[0]['traceId']}").json()
    assert trace["status"] == "completed" and trace["spans"]


def test_replay_from_any_seq_gives_the_same_events(studio):
    run = _start(studio)
    gate = next(e for e in studio.events(run["runId"], until="approval-required")
                if e["type"] == "approval-required")
    studio.api("POST", f"/approvals/{gate['approvalId']}", json={"outcome": "reject",
                                                                  "feedback": "not now"})
    full = studio.events(run["runId"])
    assert full[-1]["status"] == "completed"
    decision = next(e for e in full if e["type"] == "approval-decision")
    assert decision["outcome"] == "reject" and decision["feedback"] == "not now"
    for cut in (0, 5, gate["seq"], full[-1]["seq"] - 1):
        tail = studio.events(run["runId"], after=cut)
        assert all(e["seq"] > cut for e in tail)
        assert tail[-1] == full[-1]
    bad = studio.client.get(f"/api/workspaces/lisbon/runs/{run['runId']}/events",
                            headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 400 and "'abc'" in bad.json()["error"]
    assert studio.api("GET", "/runs/run-nope/events").status_code == 404
    assert not (studio.folder / ORDERS).exists()  # rejected: never dispatched


def test_revise_with_feedback_submits_a_second_version(studio):
    run = _start(studio)
    gate = next(e for e in studio.events(run["runId"], until="approval-required")
                if e["type"] == "approval-required")
    studio.api("POST", f"/approvals/{gate['approvalId']}",
               json={"outcome": "revise", "feedback": "smaller orders"})
    events = studio.events(run["runId"], after=gate["seq"], until="approval-required")
    second = next(e for e in events if e["type"] == "approval-required")
    assert second["target"] == "lisbon-restock@v2"
    plans = studio.api("GET", f"/plans?threadId={run['threadId']}").json()["plans"]
    assert [p["id"] for p in plans] == ["lisbon-restock@v1", "lisbon-restock@v2"]
    v1 = studio.api("GET", "/plans/lisbon-restock@v1").json()
    v2 = studio.api("GET", "/plans/lisbon-restock@v2").json()
    assert [a["payload"]["units"] for a in v2["actions"]] < [
        a["payload"]["units"] for a in v1["actions"]]
    assert studio.api("GET", "/plans/nope@v9").status_code == 404
    # plan versions are per thread: a second thread's plan is its own v1
    other = _start(studio)
    studio.events(other["runId"], until="approval-required")
    ambiguous = studio.api("GET", "/plans/lisbon-restock@v1")
    assert ambiguous.status_code == 400
    assert "exists in 2 threads" in ambiguous.json()["error"]
    assert "?threadId=" in ambiguous.json()["error"]
    for thread in (run["threadId"], other["threadId"]):
        plan = studio.api("GET", f"/plans/lisbon-restock@v1?threadId={thread}").json()
        assert plan["threadId"] == thread
    assert studio.api("GET", "/plans/lisbon-restock@v2").json()["threadId"] == run["threadId"]
    missing = studio.api("GET", f"/plans/lisbon-restock@v2?threadId={other['threadId']}")
    assert missing.status_code == 404


def test_cancel_ends_a_paused_run(studio):
    run = _start(studio)
    studio.events(run["runId"], until="approval-required")
    assert studio.api("POST", f"/runs/{run['runId']}/cancel").status_code == 200
    finish = studio.events(run["runId"])[-1]
    assert finish["type"] == "run-finish" and finish["status"] == "cancelled"
    again = studio.api("POST", f"/runs/{run['runId']}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["error"]
    assert studio.api("POST", "/runs/run-unknown/cancel").status_code == 404


def test_bad_requests_say_what_was_expected(studio):
    cases = [
        ("POST", "/runs", {"json": {}}, 400, "'prompt' is required"),
        ("POST", "/runs", {"json": {"prompt": 3}}, 400, "must be a string"),
        ("POST", "/runs", {"content": b"not json"}, 400, "must be JSON"),
        ("POST", "/runs", {"json": [1]}, 400, "JSON object"),
        ("POST", "/runs", {"json": {"prompt": "x", "agent": "ghost"}}, 400, "ghost"),
        ("POST", "/approvals/ap-x", {"json": {"outcome": "maybe"}}, 400, "'maybe'"),
        ("POST", "/approvals/ap-x", {"json": {"outcome": "approve"}}, 404, "ap-x"),
        ("GET", "/traces/trace-nope", {}, 404, "trace-nope"),
        ("POST", "/sql", {"json": {"sql": "SELECT 1", "limit": 0}}, 400, "'limit'"),
        ("POST", "/evals", {"json": {}}, 400, "'request' is required"),
        ("POST", "/evals", {"json": {"request": {"testCases": []}}}, 400, "test"),
        ("GET", "/evals/eval-nope", {}, 404, "eval-nope"),
        ("GET", "/catalog/search", {}, 400, "'q'"),
    ]
    for method, path, kwargs, status, needle in cases:
        response = studio.api(method, path, **kwargs)
        assert response.status_code == status, (path, response.text)
        assert needle in response.json()["error"], (path, response.text)
    huge = studio.api("POST", "/runs", content=b"{" + b" " * 1_100_000 + b"}")
    assert huge.status_code == 413


def test_catalog_and_read_only_sql(studio):
    tables = [t["table"] for t in studio.api("GET", "/catalog").json()["tables"]]
    assert "inventory" in tables and "stores" in tables
    columns = studio.api("GET", "/catalog/tables/stores").json()["columns"]
    assert "city" in [c["name"] for c in columns]
    assert studio.api("GET", "/catalog/tables/nope").status_code == 404
    found = studio.api("GET", "/catalog/search", params={"q": "reorder point"}).json()
    assert found["results"] and found["results"][0]["table"] == "inventory"

    result = studio.api("POST", "/sql", json={"sql": "SELECT city FROM stores ORDER BY city",
                                              "limit": 2}).json()
    # two rows returned; rowCount is the query's true size (8 stores)
    assert result["columns"] == ["city"] and len(result["rows"]) == 2
    assert result["rowCount"] == 8 and result["truncated"]
    for hostile in ("DROP TABLE stores", "INSERT INTO stores VALUES (1)",
                    "SELECT 1; DELETE FROM stores", "COPY stores TO '/tmp/x.csv'",
                    "ATTACH 'x.db' AS y"):
        refused = studio.api("POST", "/sql", json={"sql": hostile})
        assert refused.status_code == 400, hostile
        assert refused.json()["error"]
    assert studio.api("POST", "/sql", json={"sql": "SELECT count(*) FROM stores"}
                      ).json()["rowCount"] == 1


def test_an_eval_streams_progress_and_keeps_its_artifact(studio):
    request = {"name": "smoke", "testCases": [{"id": "low-stock", "prompt": PROMPT}],
               "config": {"samplesPerCase": 2}}
    started = studio.api("POST", "/evals", json={"request": request})
    assert started.status_code == 201, started.text
    eval_id = started.json()["evalRunId"]
    kinds = []
    with studio.client.stream("GET", f"/api/workspaces/lisbon/evals/{eval_id}/events") as resp:
        for line in resp.iter_lines():
            if line.startswith("data:") and line[5:].strip().startswith("["):
                kinds += [e["type"] for e in json.loads(line[5:])]
                if "eval-finish" in kinds:
                    break
    assert kinds[0] == "eval-start" and kinds[-1] == "eval-finish"
    assert kinds.count("sample-finish") == 2
    job = studio.api("GET", f"/evals/{eval_id}").json()
    assert job["status"] == "finished" and job["artifact"]["testCases"][0]["id"] == "low-stock"
    listed = studio.api("GET", "/evals").json()["evals"]
    assert listed[0]["evalRunId"] == eval_id and listed[0]["name"] == "smoke"
    traces = studio.api("GET", f"/traces?evalRunId={eval_id}").json()["traces"]
    assert len(traces) == 2
    sample = job["artifact"]["testCases"][0]["samples"][0]
    assert studio.api("GET", f"/traces/{sample['traceId']}").json()["evalRunId"] == eval_id
    # eval runs are not chat runs
    assert all(r.get("evalRunId") is None for r in studio.api("GET", "/runs").json()["runs"])


def test_a_partial_approval_dispatches_only_the_chosen_actions(studio):
    run = _start(studio)
    gate = next(e for e in studio.events(run["runId"], until="approval-required")
                if e["type"] == "approval-required")
    bad = studio.api("POST", f"/approvals/{gate['approvalId']}",
                     json={"outcome": "approve", "partial": {"actions": [7]}})
    assert bad.status_code == 400, bad.text
    ok = studio.api("POST", f"/approvals/{gate['approvalId']}",
                    json={"outcome": "approve", "partial": {"actions": [1]}})
    assert ok.status_code == 200, ok.text
    assert studio.events(run["runId"], after=gate["seq"])[-1]["status"] == "completed"
    orders = [json.loads(line) for line in (studio.folder / ORDERS).read_text().splitlines()]
    assert [[a["payload"]["sku"] for a in call] for call in orders] == [["BAK-033-L"]]


def test_an_edited_payload_is_checked_dispatched_and_recorded(studio):
    run = _start(studio)
    gate = next(e for e in studio.events(run["runId"], until="approval-required")
                if e["type"] == "approval-required")
    url = f"/approvals/{gate['approvalId']}"
    first = gate["payload"]["actions"][0]
    plan_id = gate["payload"]["planId"]
    bad = studio.api("POST", url, json={"outcome": "approve", "partial": {"actions": [
        {"index": 0, "payload": {**first["payload"], "units": "a dozen"}}]}})
    assert bad.status_code == 400, bad.text
    assert "action 0 (restock) is invalid" in bad.json()["error"]
    assert "units" in bad.json()["error"]
    assert [a["approvalId"] for a in studio.api("GET", "/approvals").json()["approvals"]] == [
        gate["approvalId"]]  # still pending
    edited = {**first["payload"], "units": 7}
    ok = studio.api("POST", url, json={"outcome": "approve", "partial": {"actions": [
        {"index": 0, "payload": edited}, 2]}})
    assert ok.status_code == 200, ok.text
    assert studio.events(run["runId"], after=gate["seq"])[-1]["status"] == "completed"
    orders = [json.loads(line) for line in (studio.folder / ORDERS).read_text().splitlines()]
    assert [[a["payload"] for a in call] for call in orders] == [
        [edited, gate["payload"]["actions"][2]["payload"]]]
    plan = studio.api("GET", f"/plans/{plan_id}").json()
    note = next(h for h in plan["history"] if h["status"] == "approved")["note"]
    assert note["deselected"] == [1]
    assert note["edited"] == [{"index": 0, "kind": "restock", "before": first["payload"],
                               "after": edited}]
    assert [a["index"] for a in plan["dispatchedActions"]] == [0, 2]
