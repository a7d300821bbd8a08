"""Studio's JSON API (SPEC §15), mounted under ``/api``.

Every route but ``/api/app`` is per workspace: ``/api/workspaces/{ws}/...``.
Errors are JSON ``{"error": message, "status": code}``: 400 bad input, 404
unknown workspace / run / plan / trace / table / approval, 409 a conflict (an approval
already answered, a thread busy), 501 a feature the workspace lacks (no data
environment).

Live streams are Server-Sent Events: each message is a batch of events (JSON
array, consecutive text deltas merged) whose ``id`` is the ``seq`` of its last
event, so a reconnecting ``EventSource`` resumes with ``Last-Event-ID`` and
loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..engine.errors import AmbiguousPlanError
from ._runs import TERMINAL, RunHub, compact

__all__ = ["StudioState", "routes"]

_MAX_BODY = 1_000_000
_SQL_ROW_LIMIT = 1000


@dataclass
class _EvalJob:
    workspace: str
    eval_run_id: str
    name: str
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    error: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def summary(self) -> dict[str, Any]:
        finish = self.envelopes[-1]["data"] if self.status == "finished" else {}
        return {"evalRunId": self.eval_run_id, "workspace": self.workspace, "name": self.name,
                "status": self.status, "error": self.error, "envelopes": len(self.envelopes),
                "aggregateScore": finish.get("aggregateScore"), "passed": finish.get("passed")}


class StudioState:
    """What one Studio app holds: the FlowAIApp, the runs it follows, its eval jobs."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hub = RunHub()
        self.evals: dict[str, _EvalJob] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watched: set[str] = set()
        self.mcp_paths: dict[str, str] = {}
        """Each workspace's MCP path when this Studio serves MCP (``/mcp/<workspace>``)."""

    def runtime(self, workspace: str) -> Any:
        runtime = self.app.runtime(workspace)
        if workspace not in self._watched:
            self._watched.add(workspace)
            self.spawn(self._watch(workspace, runtime))
        return runtime

    async def _watch(self, workspace: str, runtime: Any) -> None:
        """Note every run that starts from now on, in any process sharing the store."""
        async for event in runtime.subscribe():
            self.hub.observe(workspace, event)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        await self.hub.close()
        for task in list(self._tasks):
            task.cancel()


class HTTPError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_clean(value), status_code=status)


def _clean(value: Any) -> Any:
    """NaN and infinities become null (strict JSON), anything odd its string."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _endpoint(fn: Callable[..., Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    """Turn exceptions into JSON errors with the right status; look up the workspace."""

    @functools.wraps(fn)
    async def handler(request: Request) -> Response:
        state: StudioState = request.app.state.studio
        try:
            ws = request.path_params.get("ws")
            if ws is not None:
                try:
                    state.app.workspace(ws)
                except KeyError as exc:
                    raise HTTPError(404, str(exc.args[0])) from None
            result = await fn(request, state)
        except HTTPError as exc:
            return _json({"error": exc.message, "status": exc.status}, exc.status)
        except LookupError as exc:  # unknown plan, trace, table, reference, approval
            message = str(exc.args[0]) if exc.args else str(exc)
            return _json({"error": message, "status": 404}, 404)
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc), "status": 400}, 400)
        except RuntimeError as exc:
            return _json({"error": str(exc), "status": 409}, 409)
        if isinstance(result, Response):
            return result
        return _json(result)

    return handler


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise HTTPError(413, f"request body is {len(raw)} bytes; the limit is {_MAX_BODY}")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise HTTPError(400, "the request body must be JSON") from None
    if not isinstance(data, dict):
        raise HTTPError(400, f"the request body must be a JSON object, got {type(data).__name__}")
    return data


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise HTTPError(400, f"{key!r} is required (a non-empty string)")
        return None
    if not isinstance(value, str):
        raise HTTPError(400, f"{key!r} must be a string, got {type(value).__name__}")
    return value


def _after(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None or raw == "":
        return -1
    try:
        return int(raw)
    except ValueError:
        raise HTTPError(400, f"Last-Event-ID / after must be an event seq (an integer), "
                             f"got {raw!r}") from None


def _sse(batches: AsyncIterator[tuple[str, Any]]) -> Response:
    from sse_starlette.sse import EventSourceResponse

    async def messages() -> AsyncIterator[dict[str, Any]]:
        async for event_id, data in batches:
            yield {"id": event_id, "event": "events", "data": json.dumps(_clean(data))}
        yield {"event": "end", "data": "{}"}

    return EventSourceResponse(messages(), ping=15, headers={"Cache-Control": "no-store"})


# -- app and workspaces ---------------------------------------------------------------------

@_endpoint
async def app_info(request: Request, state: StudioState) -> Any:
    return {"name": state.app.name, "workspaces": [
        {"name": w.name, "description": w.description, "started": w.started,
         "mcpPath": state.mcp_paths.get(w.name)}
        for w in state.app.workspaces]}


@_endpoint
async def workspace_info(request: Request, state: StudioState) -> Any:
    ws = request.path_params["ws"]
    rt = state.runtime(ws)
    spec = rt.spec
    agents = [{"name": a.name, "role": a.role, "model": a.model.id if a.model else None,
               "routes": list(a.routes), "tools": a.tool_names,
               "toolkits": list(a.toolkits), "plan": a.plan.name if a.plan else None}
              for a in spec.agents]
    tools = [{"name": name, "description": t.description, "inputSchema": t.input_schema}
             for name, t in spec.tools_by_name.items()]
    return {"name": ws, "description": state.app.workspace(ws).description,
            "tenant": rt.tenant.key, "interpreter": rt.interpreter.name,
            "entryAgent": spec.coordinator.name if spec.coordinator else None,
            "agents": agents, "tools": tools, "hasData": rt.data_environment_config is not None}


# -- runs and threads --------------------------------------------------------------------------

def _trace_summary(trace: dict[str, Any]) -> dict[str, Any]:
    events = trace.get("events") or []
    start = next((e for e in events if e.get("type") == "run-start"), {})
    finish = next((e for e in reversed(events) if e.get("type") == "run-finish"), {})
    return {"runId": trace.get("runId"), "threadId": trace.get("threadId"),
            "prompt": start.get("prompt"), "status": trace.get("status"),
            "startedAt": trace.get("startedAt"), "updatedAt": trace.get("endedAt")
            or (events[-1].get("ts") if events else None), "events": len(events),
            "text": finish.get("text"), "traceId": trace.get("traceId"),
            "usage": trace.get("usage"), "evalRunId": trace.get("evalRunId")}


def _runs(state: StudioState, ws: str, thread_id: str | None = None) -> list[dict[str, Any]]:
    rt = state.runtime(ws)
    runs: dict[str, dict[str, Any]] = {}
    for trace in rt.list_traces(thread_id=thread_id):
        if trace.get("evalRunId"):
            continue
        runs[trace["runId"]] = _trace_summary(trace)
    for run in state.hub.runs.values():
        if run.workspace == ws and (thread_id is None or run.thread_id == thread_id):
            runs[run.run_id] = {**runs.get(run.run_id, {}), **run.summary()}
    pending = {a["runId"] for a in rt.pending_approvals()}
    for run in runs.values():
        if run["runId"] in pending and run["status"] not in TERMINAL:
            run["status"] = "paused"
    return sorted(runs.values(), key=lambda r: r.get("startedAt") or 0, reverse=True)


@_endpoint
async def list_runs(request: Request, state: StudioState) -> Any:
    return {"runs": _runs(state, request.path_params["ws"],
                          request.query_params.get("threadId") or None)}


@_endpoint
async def start_run(request: Request, state: StudioState) -> Any:
    ws = request.path_params["ws"]
    data = await _body(request)
    prompt = _text(data, "prompt", required=True)
    thread = _text(data, "threadId")
    agent = _text(data, "agent")
    rt = state.runtime(ws)
    stream = (rt.run_agent(agent, prompt, thread) if agent else rt.query(prompt, thread))
    run = state.hub.track(ws, stream, prompt or "")
    return _json({"runId": run.run_id, "threadId": run.thread_id}, 201)


@_endpoint
async def cancel_run(request: Request, state: StudioState) -> Any:
    run_id = request.path_params["run"]
    run = state.hub.runs.get(run_id)
    if not state.hub.started_here(run_id):
        raise HTTPError(404, f"run {run_id!r} is not running in this Studio (runs started "
                             "elsewhere are cancelled where they run)")
    if run.status in TERMINAL:
        raise HTTPError(409, f"run {run_id} already finished ({run.status})")
    run.stream.cancel()
    return {"runId": run_id, "cancelling": True}


async def _follow(state: StudioState, ws: str, run_id: str,
                  after: int) -> AsyncIterator[tuple[str, Any]]:
    """Batches of the run's events after ``after``, live until its ``run-finish``.

    A finished run is replayed from its trace; a live one is followed through the
    runtime's journal (``runtime.subscribe``), which also sees runs of other
    processes sharing the store.
    """
    rt = state.runtime(ws)
    trace = rt.get_trace(f"trace-{run_id}") or {}
    if trace.get("status") in TERMINAL:
        events = [e for e in trace.get("events") or [] if e.get("seq", -1) > after]
        if events:
            yield str(events[-1]["seq"]), compact(events)
        return
    async for batch in _subscribed(rt, run_id, after):
        batch = [e for e in batch if e.get("seq", -1) > after]
        if batch:
            after = batch[-1]["seq"]
            yield str(after), compact(batch)


async def _subscribed(rt: Any, run_id: str,
                      after: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The run's journal from ``after + 1``, in batches of whatever has arrived."""
    subscription = rt.subscribe(run_id=run_id, since_seq=after + 1)
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in subscription:
                queue.put_nowait(event)
        finally:
            queue.put_nowait(None)

    task = asyncio.ensure_future(pump())
    try:
        ended = False
        while not ended:
            item = await queue.get()
            if item is None:
                break
            batch = [item]
            while not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    ended = True
                    break
                batch.append(item)
            yield batch
            if batch[-1].get("type") == "run-finish":
                break
    finally:
        task.cancel()
        close = getattr(subscription, "aclose", None)
        if close is not None:
            await close()


@_endpoint
async def run_events(request: Request, state: StudioState) -> Any:
    ws, run_id = request.path_params["ws"], request.path_params["run"]
    after = _after(request)
    if run_id not in state.hub.runs and state.runtime(ws).get_trace(f"trace-{run_id}") is None:
        raise HTTPError(404, f"no run {run_id!r} in workspace {ws!r} (it has not started, "
                             "or it lives in another store)")
    return _sse(_follow(state, ws, run_id, after))


@_endpoint
async def thread_events(request: Request, state: StudioState) -> Any:
    """Every run of a thread, replayed then live; event ids are ``runId:seq``."""
    ws, thread = request.path_params["ws"], request.path_params["thread"]
    rt = state.runtime(ws)
    last = request.headers.get("last-event-id") or request.query_params.get("after") or ""
    if last and (":" not in last or not last.rpartition(":")[2].isdigit()):
        raise HTTPError(400, f"Last-Event-ID / after must be 'runId:seq', got {last!r}")

    async def batches() -> AsyncIterator[tuple[str, Any]]:
        skipping = bool(last)
        subscription = rt.subscribe(thread_id=thread)
        try:
            async for event in subscription:
                event_id = f"{event.get('runId')}:{event.get('seq')}"
                if skipping:
                    skipping = event_id != last
                    continue
                yield event_id, [event]
        finally:
            close = getattr(subscription, "aclose", None)
            if close is not None:
                await close()

    return _sse(batches())


@_endpoint
async def list_threads(request: Request, state: StudioState) -> Any:
    threads: dict[str, dict[str, Any]] = {}
    for run in reversed(_runs(state, request.path_params["ws"])):
        entry = threads.setdefault(run["threadId"], {"threadId": run["threadId"], "runs": 0,
                                                      "startedAt": run.get("startedAt")})
        entry.update(runs=entry["runs"] + 1, lastPrompt=run.get("prompt"),
                     updatedAt=run.get("updatedAt"), status=run.get("status"))
    return {"threads": sorted(threads.values(), key=lambda t: t.get("updatedAt") or 0,
                              reverse=True)}


# -- approvals and plans ---------------------------------------------------------------------

@_endpoint
async def list_approvals(request: Request, state: StudioState) -> Any:
    pending = state.runtime(request.path_params["ws"]).pending_approvals()
    thread = request.query_params.get("threadId")
    return {"approvals": [a for a in pending if not thread or a.get("threadId") == thread]}


@_endpoint
async def decide(request: Request, state: StudioState) -> Any:
    data = await _body(request)
    outcome = _text(data, "outcome", required=True)
    if outcome not in ("approve", "reject", "revise"):
        raise HTTPError(400, f"outcome must be 'approve', 'reject' or 'revise', got {outcome!r}")
    feedback = _text(data, "feedback")
    ws = request.path_params["ws"]
    rt = state.runtime(ws)
    approval_id = request.path_params["approval"]
    if rt.get_approval(approval_id) is None:
        raise HTTPError(404, f"no approval {approval_id!r} in workspace {ws!r}")
    await rt.respond_to_approval(approval_id, outcome, feedback, data.get("partial"))
    return {"approvalId": approval_id, "outcome": outcome, "feedback": feedback}


@_endpoint
async def list_plans(request: Request, state: StudioState) -> Any:
    rt = state.runtime(request.path_params["ws"])
    return {"plans": rt.list_plans(request.query_params.get("threadId") or None)}


@_endpoint
async def get_plan(request: Request, state: StudioState) -> Any:
    rt = state.runtime(request.path_params["ws"])
    try:
        return rt.get_plan(request.path_params["plan"],
                           thread_id=request.query_params.get("threadId") or None)
    except AmbiguousPlanError as exc:  # plan versions are per thread
        raise HTTPError(400, f"{exc}: add ?threadId=<thread>") from None


# -- traces --------------------------------------------------------------------------------------

@_endpoint
async def list_traces(request: Request, state: StudioState) -> Any:
    q = request.query_params
    traces = state.runtime(request.path_params["ws"]).list_traces(
        eval_run_id=q.get("evalRunId") or None, test_case_id=q.get("testCaseId") or None,
        thread_id=q.get("threadId") or None)
    return {"traces": [_trace_summary(t) for t in reversed(traces)]}


@_endpoint
async def get_trace(request: Request, state: StudioState) -> Any:
    trace_id = request.path_params["trace"]
    trace = state.runtime(request.path_params["ws"]).get_trace(trace_id)
    if trace is None:
        raise HTTPError(404, f"no trace {trace_id!r}")
    return trace


# -- evals ---------------------------------------------------------------------------------------

async def _drain_eval(job: _EvalJob, first: dict[str, Any], stream: Any) -> None:
    job.envelopes.append(first)
    job.changed.set()
    try:
        async for envelope in stream:
            job.envelopes.append(envelope)
            if envelope.get("type") == "eval-finish":
                job.status = "finished"
            job.changed.set()
    except Exception as exc:  # shown on the eval's page
        job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
    if job.status == "running":
        job.status = "finished" if job.envelopes[-1].get("type") == "eval-finish" else "failed"
    job.changed.set()


@_endpoint
async def start_eval(request: Request, state: StudioState) -> Any:
    ws = request.path_params["ws"]
    data = await _body(request)
    eval_request = data.get("request")
    if eval_request is None:
        raise HTTPError(400, "'request' is required: an eval request (testCases, config, ...)")
    stream = state.runtime(ws).stream_eval(eval_request)
    first = await stream.__anext__()  # raises ValueError for a bad request
    eval_run_id = first.get("evalRunId") or f"eval-{len(state.evals) + 1}"
    job = _EvalJob(ws, eval_run_id, (first.get("data") or {}).get("name") or eval_run_id)
    state.evals[eval_run_id] = job
    state.spawn(_drain_eval(job, first, stream))
    return _json({"evalRunId": eval_run_id}, 201)


def _job(state: StudioState, request: Request) -> _EvalJob:
    job = state.evals.get(request.path_params["eval"])
    if job is None or job.workspace != request.path_params["ws"]:
        raise HTTPError(404, f"no eval run {request.path_params['eval']!r} in this Studio")
    return job


@_endpoint
async def list_evals(request: Request, state: StudioState) -> Any:
    ws = request.path_params["ws"]
    return {"evals": [j.summary() for j in reversed(state.evals.values()) if j.workspace == ws]}


@_endpoint
async def get_eval(request: Request, state: StudioState) -> Any:
    job = _job(state, request)
    artifact = job.envelopes[-1]["data"] if job.status == "finished" else None
    return {**job.summary(), "artifact": artifact}


@_endpoint
async def eval_events(request: Request, state: StudioState) -> Any:
    job = _job(state, request)
    after = _after(request)

    async def batches() -> AsyncIterator[tuple[str, Any]]:
        index = after + 1
        while True:
            if index < len(job.envelopes):
                batch = job.envelopes[index:]
                index += len(batch)
                yield str(index - 1), batch
                continue
            if job.status != "running":
                return
            job.changed.clear()
            await job.changed.wait()

    return _sse(batches())


# -- data ----------------------------------------------------------------------------------------

def _data(state: StudioState, ws: str) -> Any:
    data = state.runtime(ws).data
    if data is None:
        raise HTTPError(501, f"workspace {ws!r} has no data environment (create its runtime "
                             "with target_database_url= or data_environment=)")
    return data


@_endpoint
async def catalog(request: Request, state: StudioState) -> Any:
    data = _data(state, request.path_params["ws"])
    return await run_in_threadpool(data.list_tables)


@_endpoint
async def catalog_table(request: Request, state: StudioState) -> Any:
    data = _data(state, request.path_params["ws"])
    return await run_in_threadpool(data.describe_table, request.path_params["table"])


@_endpoint
async def catalog_search(request: Request, state: StudioState) -> Any:
    data = _data(state, request.path_params["ws"])
    query = request.query_params.get("q", "")
    if not query.strip():
        raise HTTPError(400, "'q' (the search text) is required")
    return await run_in_threadpool(data.search_catalog, query, 20)


@_endpoint
async def sql(request: Request, state: StudioState) -> Any:
    ws = request.path_params["ws"]
    data = _data(state, ws)
    body = await _body(request)
    text = _text(body, "sql", required=True)
    limit = body.get("limit", 200)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= _SQL_ROW_LIMIT:
        raise HTTPError(400, f"'limit' must be an integer from 1 to {_SQL_ROW_LIMIT}, "
                             f"got {limit!r}")
    result = await run_in_threadpool(data.run_sql, text, limit)
    if "columns" not in result:  # a large result came back as a reference
        payload = await state.runtime(ws).resolve_reference(result)
        glimpse = result.get("glimpse") or {}
        rows = list(payload.get("rows") or [])[:limit]
        total = glimpse.get("rowCount", len(rows))
        result = {**payload, "rows": rows, "rowCount": total, "truncated": total != len(rows)}
    return result


def routes() -> list[Route]:
    """The API routes (paths relative to the app root)."""
    w = "/api/workspaces/{ws}"
    return [
        Route("/api/app", app_info),
        Route(w, workspace_info),
        Route(f"{w}/runs", list_runs),
        Route(f"{w}/runs", start_run, methods=["POST"]),
        Route(f"{w}/runs/{{run}}/events", run_events),
        Route(f"{w}/runs/{{run}}/cancel", cancel_run, methods=["POST"]),
        Route(f"{w}/threads", list_threads),
        Route(f"{w}/threads/{{thread}}/events", thread_events),
        Route(f"{w}/approvals", list_approvals),
        Route(f"{w}/approvals/{{approval}}", decide, methods=["POST"]),
        Route(f"{w}/plans", list_plans),
        Route(f"{w}/plans/{{plan}}", get_plan),
        Route(f"{w}/traces", list_traces),
        Route(f"{w}/traces/{{trace}}", get_trace),
        Route(f"{w}/evals", list_evals),
        Route(f"{w}/evals", start_eval, methods=["POST"]),
        Route(f"{w}/evals/{{eval}}", get_eval),
        Route(f"{w}/evals/{{eval}}/events", eval_events),
        Route(f"{w}/catalog", catalog),
        Route(f"{w}/catalog/search", catalog_search),
        Route(f"{w}/catalog/tables/{{table}}", catalog_table),
        Route(f"{w}/sql", sql, methods=["POST"]),
    ]
