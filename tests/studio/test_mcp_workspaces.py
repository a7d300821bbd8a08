"""Every workspace of a Studio app over MCP: ``/mcp/<workspace>``, with the real ``mcp`` client.

One Studio server (uvicorn on 127.0.0.1, in a thread) serves an app of four workspaces:
the demo's ``lisbon`` (default, so also ``/mcp``), ``Zürich east`` (another runtime with
other tools and its own store: a name with a space and a non-ASCII letter), ``broken``
(its runtime factory always raises) and ``flaky`` (its factory raises once, then builds).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from .conftest import TOKEN

ZURICH = "Zürich east"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


class _Served:
    def __init__(self, server: Any, app: Any, builds: dict[str, int]) -> None:
        self.server = server
        self.app = app
        self.builds = builds
        self.url = server.url.rstrip("/")

    def ws_url(self, name: str) -> str:
        return f"{self.url}/mcp/{quote(name, safe='')}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    import flowai_nb as fa
    from flowai_nb.studio.demo import make_runtime
    from flowai_nb.studio.server import StudioServer
    from tests.mcp.mcp_app import build_runtime

    root = tmp_path_factory.mktemp("mcp-workspaces")
    builds = {"broken": 0, "flaky": 0, "cold": 0}

    def broken() -> Any:
        builds["broken"] += 1
        raise RuntimeError("no database at /nowhere/retail.db")

    def flaky() -> Any:
        builds["flaky"] += 1
        if builds["flaky"] == 1:
            raise ConnectionError("store not reachable yet")
        return build_runtime(str(root / "flaky.db"))

    def cold() -> Any:
        builds["cold"] += 1
        return build_runtime(str(root / "cold.db"))

    app = fa.define_app("multi", workspaces=[
        fa.define_workspace_runtime("lisbon", lambda: make_runtime(root / "lisbon")),
        fa.define_workspace_runtime(ZURICH, lambda: build_runtime(str(root / "zurich.db"))),
        fa.define_workspace_runtime("broken", broken),
        fa.define_workspace_runtime("flaky", flaky),
        fa.define_workspace_runtime("cold", cold),
    ])
    server = StudioServer(app, port=0, token=TOKEN).start_in_thread()
    try:
        yield _Served(server, app, builds)
    finally:
        server.stop_thread()
        app.close()


async def _session(url: str, calls: list[tuple[str, dict[str, Any]]],
                   token: str = TOKEN) -> tuple[list[str], list[Any]]:
    """Open an MCP session at ``url``; list the tools, make ``calls``; return both."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                  timeout=httpx2.Timeout(30, read=60)) as http, \
            streamable_http_client(url, http_client=http) as (read, write, *_), \
            ClientSession(read, write) as session:
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        results = [await session.call_tool(name, args) for name, args in calls]
        return tools, results


def _traces(served: _Served, workspace: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=served.url, timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        base = f"/api/workspaces/{quote(workspace, safe='')}/traces"
        found = client.get(base)
        assert found.status_code == 200, found.text
        return [client.get(f"{base}/{t['traceId']}").json() for t in found.json()["traces"]]


def _tool_calls(served: _Served, workspace: str) -> list[str]:
    return sorted(t["tags"].get("mcpTool", "") for t in _traces(served, workspace))


def test_two_workspaces_serve_their_own_tools_and_stores(served):
    zurich_before = _tool_calls(served, ZURICH)
    lisbon_before = _tool_calls(served, "lisbon")
    sql = ("run_sql", {"sql": "SELECT count(*) AS n FROM stores"})
    lisbon_tools, (rows, missing) = asyncio.run(_session(
        served.ws_url("lisbon"), [sql, ("add", {"a": 2, "b": 3})]))
    zurich_tools, (total, no_sql) = asyncio.run(_session(
        served.ws_url(ZURICH), [("add", {"a": 2, "b": 3}), sql]))

    assert "run_sql" in lisbon_tools and "add" not in lisbon_tools
    assert "add" in zurich_tools and "run_sql" not in zurich_tools
    assert "ask" in lisbon_tools and "ask" in zurich_tools
    assert rows.structured_content["rows"] == [[8]]
    assert total.structured_content == {"sum": 5}
    # a tool of the other workspace is unknown here
    assert missing.is_error and "add" in missing.content[0].text
    assert no_sql.is_error and "run_sql" in no_sql.content[0].text
    # each call ran (and was traced) in its own workspace's store only
    assert _tool_calls(served, "lisbon") == sorted([*lisbon_before, "run_sql"])
    assert _tool_calls(served, ZURICH) == sorted([*zurich_before, "add"])


def test_plain_mcp_is_still_the_default_workspace(served):
    plain, (rows,) = asyncio.run(_session(
        f"{served.url}/mcp", [("run_sql", {"sql": "SELECT 41 + 1 AS n"})]))
    named, _ = asyncio.run(_session(served.ws_url("lisbon"), []))
    assert plain == named and "run_sql" in plain
    assert rows.structured_content["rows"] == [[42]]


def test_concurrent_sessions_on_two_workspaces(served):
    async def together() -> list[Any]:
        return await asyncio.gather(
            *[_session(served.ws_url(ZURICH), [("add", {"a": i, "b": 100})]) for i in range(3)],
            *[_session(served.ws_url("lisbon"), [("run_sql", {"sql": f"SELECT {i} AS n"})])
              for i in range(3)])

    outcomes = asyncio.run(together())
    sums = [results[0].structured_content["sum"] for _, results in outcomes[:3]]
    rows = [results[0].structured_content["rows"] for _, results in outcomes[3:]]
    assert sums == [100, 101, 102]
    assert rows == [[[0]], [[1]], [[2]]]


def test_concurrent_first_sessions_build_a_workspace_once(served):
    assert served.builds["cold"] == 0  # nothing built until its first request

    async def together() -> list[Any]:
        return await asyncio.gather(*[
            _session(served.ws_url("cold"), [("add", {"a": i, "b": 1})]) for i in range(4)])

    outcomes = asyncio.run(together())
    assert [r[0].structured_content["sum"] for _, r in outcomes] == [1, 2, 3, 4]
    assert served.builds["cold"] == 1


def test_a_session_of_one_workspace_is_unknown_to_another(served):
    with httpx.Client(timeout=30, headers={**ACCEPT, "Authorization": f"Bearer {TOKEN}"}) as c:
        opened = c.post(served.ws_url(ZURICH), json=INIT)
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        elsewhere = c.post(served.ws_url("lisbon"), json=listing,
                           headers={"mcp-session-id": session, "mcp-protocol-version":
                                    "2025-06-18"})
        assert elsewhere.status_code == 404
        c.delete(served.ws_url(ZURICH), headers={"mcp-session-id": session})


def test_unknown_workspace_is_a_404_naming_the_known_ones(served):
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}"}
    for name in ("nope", "lisbon ", "LISBON", "%2e%2e", "mcp"):
        answer = httpx.post(served.ws_url(name), json=INIT, headers=headers)
        assert answer.status_code == 404, (name, answer.text)
        body = answer.json()
        assert repr(name) in body["error"]
        assert body["workspaces"] == {"lisbon": "/mcp/lisbon",
                                      ZURICH: "/mcp/Z%C3%BCrich%20east",
                                      "broken": "/mcp/broken", "flaky": "/mcp/flaky",
                                      "cold": "/mcp/cold"}


def test_new_paths_need_the_token_and_a_local_host(served):
    url = served.ws_url(ZURICH)
    for auth in ({}, {"Authorization": "Bearer wrong-token-123"},
                 {"Authorization": f"Basic {TOKEN}"}):
        assert httpx.post(url, json=INIT, headers={**ACCEPT, **auth}).status_code == 401
    # an unknown workspace does not reveal the known ones without the token
    refused = httpx.post(served.ws_url("nope"), json=INIT, headers=ACCEPT)
    assert refused.status_code == 401 and "lisbon" not in refused.text
    good = {**ACCEPT, "Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url, json=INIT, headers={**good, "Host": "evil.example"}).status_code \
        == 421
    assert httpx.post(url, json=INIT, headers={**good, "Origin": "http://evil.example"}) \
        .status_code == 403
    # the real client cannot open a session with a wrong token (the SDK hides the 401)
    from mcp.shared.exceptions import MCPError

    with pytest.raises(BaseException) as refused_client:
        asyncio.run(_session(url, [], token="wrong-token-123"))
    assert all(isinstance(e, MCPError) for e in _leaves(refused_client.value))


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _raw(served: _Served, target: str, token: str | None) -> tuple[int, str]:
    """Send ``target`` as is (no client-side dot-segment removal); return status and the rest
    of the response (headers and body)."""
    port = served.server.port
    body = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
    head = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n")
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.decode("utf-8", "replace").partition("\r\n")
    return int(status_line.split()[1]), rest


@pytest.mark.parametrize("target", ["/mcp/../mcp", "/mcp/%2e%2e/mcp", "/mcp/lisbon/../lisbon",
                                    "/mcp/lisbon/extra", "/mcp/a%2Fb", "/static/../mcp",
                                    "//mcp", "/x/../mcp/lisbon", "/mcp/.."])
def test_dot_segments_and_odd_paths_never_reach_a_workspace(served, target):
    for token in (None, TOKEN):  # neither without the token nor with it
        status, rest = _raw(served, target, token)
        assert status in (401, 404, 405), (target, rest)  # 405: the static files' answer
        assert "mcp-session-id" not in rest.lower()


def test_a_workspace_whose_runtime_fails_answers_503_and_the_others_still_serve(served):
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}"}
    for attempt in (1, 2):
        answer = httpx.post(served.ws_url("broken"), json=INIT, headers=headers)
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert "'broken'" in error and "RuntimeError: no database at /nowhere" in error
        assert served.builds["broken"] == attempt  # tried again on the next request
    tools, _ = asyncio.run(_session(served.ws_url(ZURICH), []))
    assert "add" in tools


def test_a_runtime_that_fails_once_serves_on_the_next_request(served):
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}"}
    first = httpx.post(served.ws_url("flaky"), json=INIT, headers=headers)
    assert first.status_code == 503 and "store not reachable yet" in first.json()["error"]
    tools, (total,) = asyncio.run(_session(served.ws_url("flaky"), [("add", {"a": 1, "b": 1})]))
    assert "add" in tools and total.structured_content == {"sum": 2}


def test_studio_lists_every_workspace_mcp_url(served):
    assert served.server.mcp_urls == {
        "lisbon": f"{served.url}/mcp/lisbon", ZURICH: f"{served.url}/mcp/Z%C3%BCrich%20east",
        "broken": f"{served.url}/mcp/broken", "flaky": f"{served.url}/mcp/flaky",
        "cold": f"{served.url}/mcp/cold"}
    info = httpx.get(f"{served.url}/api/app",
                     headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert [(w["name"], w["mcpPath"]) for w in info["workspaces"]] == [
        ("lisbon", "/mcp/lisbon"), (ZURICH, "/mcp/Z%C3%BCrich%20east"),
        ("broken", "/mcp/broken"), ("flaky", "/mcp/flaky"), ("cold", "/mcp/cold")]


@pytest.mark.parametrize("name", [".", "..", "a/b", "tab\there", "new\nline"])
def test_workspace_names_that_cannot_be_a_url_segment_are_refused(name):
    import flowai_nb as fa

    with pytest.raises(ValueError, match="workspace name"):
        fa.define_workspace_runtime(name, lambda: None)


def test_the_studio_command_prints_every_workspace_mcp_url(tmp_path):
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from tests.studio.multi_app import DIR_ENV

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, DIR_ENV: str(tmp_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowai_nb.cli", "studio", "tests.studio.multi_app:app",
         "--port", "0", "--no-browser", "--token", TOKEN],
        cwd=str(root), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        while not any("'Zürich east'" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"studio exited: {lines} {proc.stderr.read()}"
            lines.append(line)
        banner = "".join(lines)
        base = re.search(r"open: (http://127\.0\.0\.1:\d+/)login", banner).group(1)
        assert f"workspace 'main': {base}mcp/main (also {base}mcp)" in banner
        assert f"workspace 'Zürich east': {base}mcp/Z%C3%BCrich%20east\n" in banner
        assert TOKEN not in banner.split("login?token=")[0]  # only in the login URL
        assert not list(tmp_path.iterdir())  # no workspace runtime built to print the banner
        headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}"}
        for url in re.findall(r"(http://\S+/mcp/\S+)", banner):
            assert httpx.post(url, json=INIT, headers=headers).status_code == 200, url
        assert {p.name for p in tmp_path.glob("*.db")} == {"main.db", "zurich.db"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_an_approval_belongs_to_its_workspace_only(served):
    """A gated call on one workspace waits for a decision there; the other workspace neither
    lists it, nor decides it, nor waits for it over MCP."""
    zurich_api = f"/api/workspaces/{quote(ZURICH, safe='')}/approvals"

    async def scenario() -> tuple[Any, Any, int, list[Any]]:
        async with httpx.AsyncClient(base_url=served.url, timeout=30,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            before = {a["approvalId"] for a in (await api.get(zurich_api)).json()["approvals"]}
            call = asyncio.ensure_future(_session(
                served.ws_url(ZURICH), [("wipe_table", {"table": "orders"})]))
            approval = None
            for _ in range(600):
                pending = (await api.get(zurich_api)).json()["approvals"]
                approval = next((a for a in pending if a["approvalId"] not in before), None)
                if approval is not None or call.done():
                    break
                await asyncio.sleep(0.05)
            assert approval is not None, "the gated call never asked for approval"
            gate = approval["approvalId"]
            lisbon = (await api.get("/api/workspaces/lisbon/approvals")).json()["approvals"]
            wrong_place = await api.post(f"/api/workspaces/lisbon/approvals/{gate}",
                                         json={"outcome": "approve"})
            _, (waited,) = await _session(served.ws_url("lisbon"),
                                          [("wait_for_approval", {"approvalId": gate})])
            assert not call.done()  # still waiting: nothing above decided it
            decided = await api.post(f"{zurich_api}/{gate}", json={"outcome": "approve"})
            assert decided.status_code == 200, decided.text
            _, (result,) = await asyncio.wait_for(call, 60)
            return result, waited, wrong_place.status_code, lisbon

    result, waited, wrong_status, lisbon_pending = asyncio.run(scenario())
    assert not result.is_error and "wiped orders" in result.content[0].text
    assert waited.is_error and "unknown approval id" in waited.content[0].text
    assert wrong_status == 404
    assert lisbon_pending == []


def test_stopping_studio_with_a_call_waiting_for_approval_ends_cleanly(tmp_path):
    """A gated call held open on a workspace does not keep Studio from stopping; the run
    stays paused (its approval still pending) for whoever opens the store next."""
    import threading

    import flowai_nb as fa
    from flowai_nb.studio.server import StudioServer
    from tests.mcp.mcp_app import build_runtime

    store = str(tmp_path / "held.db")
    app = fa.define_app("held", workspaces=[
        fa.define_workspace_runtime("first", lambda: build_runtime(str(tmp_path / "1.db"))),
        fa.define_workspace_runtime("held", lambda: build_runtime(store))])
    server = StudioServer(app, port=0, token=TOKEN).start_in_thread()
    url = f"{server.url}mcp/held"
    outcome: list[BaseException | Any] = []

    def call() -> None:
        try:
            outcome.append(asyncio.run(_session(url, [("wipe_table", {"table": "t"})])))
        except BaseException as exc:  # the cut connection
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            for _ in range(600):
                if api.get("/api/workspaces/held/approvals").json()["approvals"]:
                    break
                caller.join(0.05)
            else:
                pytest.fail("the gated call never asked for approval")
    finally:
        serving = server._thread
        server.stop_thread(timeout=30)
        stopped = not serving.is_alive()
        app.close()
    caller.join(30)
    assert stopped and not caller.is_alive() and outcome
    assert not isinstance(outcome[0], tuple)  # the call was cut, not answered
    reopened = build_runtime(store)
    try:
        assert [a["status"] for a in reopened.pending_approvals()] == ["pending"]
    finally:
        reopened.close()
