"""Running evals on a runtime: ``run_eval``, ``stream_eval``, ``run_eval_sync``.

What a sample runs, per ``EvalConfig.mode`` (each sample on its own fresh thread
``"<evalRunId>:<caseId>:<index>:<nonce>"``; approval gates get the case's ``approvals`` in
order, then ``approve`` for any further gate, so a sample never waits for a person):

- ``sequential``: a full coordinator query, ``runtime.query(prompt, thread_id)``.
- ``planner``: the planner agent alone (``target_agent_id``, else the spec's only
  planner), as the run's entry agent: scores the plan it stores.
- ``executor``: the executor agent alone (``target_agent_id``, else the spec's only
  executor), as the run's entry agent: the prompt names a plan stored beforehand
  (for example by an earlier planner run on the same runtime); scores what it executes.
- ``specialist``: ``runtime.run_specialist(target_agent_id, prompt, thread_id)``.

What a sample records, from the run's events:

- ``trajectory``: with ``trajectory_kind="tools"`` (default) the ``tool`` of every
  ``tool-call`` event in event order, sub-agents' calls and built-ins (``call_agent``,
  ``store_plan``, ``execute_plan``) included; with ``"agents"`` the ``agent`` of every
  ``agent-start`` event.
- ``actions``: the actions of every plan stored during the sample (``plan-stored``
  events), as ``{kind, payload}``, plans in order of first storage; when a plan id is
  stored again (a revise stores ``id@v2``) its latest version replaces the earlier one.
  A plan executed during the sample (``action-status`` events) but stored before it
  adds its actions too, read from ``runtime.get_plan`` (the sample's thread's plan, else
  the one thread that has the id, as ``execute_plan`` found it). A plan executed during
  the sample counts the actions that ran (its record's ``dispatchedActions``): actions a
  partial approval left out are not listed, and an edited one has its payload as
  dispatched (in the plan type's validated form).
- ``finalText``, ``usage`` and ``traceId`` from ``run-finish``; ``latencyMs`` wall time.

A sample whose run fails (``run-finish`` status failed/cancelled) scores 0 with the
error message as ``error``; one that exceeds ``timeout_per_sample_secs`` is cancelled
and scores 0 with ``error="timeout"``. An exception escaping the runtime itself ends
the whole eval with RuntimeError.

Envelope order is deterministic (same request, same sequence of ``type`` / case /
index): samples run concurrently (at most ``concurrency`` at once, started in case
order), but envelopes are released in canonical order: ``eval-start``, then
``sample-start`` for the first ``concurrency`` samples, then for each sample in order
its ``sample-finish`` (followed by ``case-finish`` after a case's last sample) and the
``sample-start`` of the sample that takes its slot, and finally ``eval-finish``. A
finished sample's envelope may wait for earlier samples to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..engine.blocking import drive, run_sync
from ..engine.options import RunOptions
from ..engine.state import RunState
from .artifact import CaseResult, EvalArtifact, SampleResult
from .models import EvalConfig, EvalRequest, EvalTestCase, parse_eval_request
from .passk import aggregate_cases, pass_at_k
from .scorers import JudgeVerdict, RawSampleOutput, score_sample

__all__ = ["EvalStream", "run_eval", "run_eval_sync", "stream_eval"]

_CANCEL_GRACE_SECS = 2.0
_JUDGE_SYSTEM = ("You are a strict evaluator. You are shown a task and an assistant's final "
                 "answer, and asked one question about the answer. Reply with exactly one "
                 "word: yes or no.")


# --- public entry points ----------------------------------------------------------------

class EvalStream:
    """The envelopes of one eval run: ``async for`` (or plain ``for`` with no running loop).

    Each envelope is ``{"type", "evalRunId", "seq", "data"}``; types ``eval-start``,
    ``sample-start``, ``sample-finish``, ``case-finish``, ``eval-finish`` (data = the
    artifact dict). The run starts on first iteration; a stream is iterated once. To stop
    early, ``await stream.aclose()`` (plain ``for``: leaving the loop does it), which
    cancels the samples still running.
    """

    def __init__(self, runtime: Any, request: Any, *, progress: bool | TextIO = False) -> None:
        self._agen = _run(runtime, parse_eval_request(request), progress)
        self.artifact: dict[str, Any] | None = None
        """The artifact dict, once ``eval-finish`` has been yielded."""

    def __aiter__(self) -> EvalStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        envelope = await self._agen.__anext__()
        if envelope["type"] == "eval-finish":
            self.artifact = envelope["data"]
        return envelope

    async def aclose(self) -> None:
        """Stop the eval: cancel running samples; no further envelopes."""
        await self._agen.aclose()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # A loop of our own; inside a notebook cell it runs on a helper thread, so the
        # kernel's running loop is never re-entered (SPEC §14).
        loop = asyncio.new_event_loop()
        try:
            while True:
                try:
                    yield drive(loop, self.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            drive(loop, self.aclose())
            drive(loop, loop.shutdown_asyncgens())
            loop.close()


def stream_eval(runtime: Any, request: Any, *, progress: bool | TextIO = False) -> EvalStream:
    """Stream an eval's progress envelopes (see :class:`EvalStream`).

    ``request`` is an :class:`~flowai_nb.evals.EvalRequest`, a mapping or a JSON string.
    ``progress=True`` (or a text stream) also writes a one-line progress bar to stderr
    (or that stream), for scripts and consoles without widgets.

    Raises ValueError at once for an unparseable request; on first iteration: ValueError
    for a tenant other
    than the runtime's, an unknown target agent or a tags filter matching no case;
    RuntimeError when the runtime itself fails or was closed (at once).
    """
    if getattr(runtime, "closed", False):
        raise RuntimeError(f"cannot run an eval on {runtime!r}: it was closed; its stores are "
                           f"gone: create a new one with create_runtime(...)")
    return EvalStream(runtime, request, progress=progress)


async def run_eval(runtime: Any, request: Any, *,
                   progress: bool | TextIO = False) -> dict[str, Any]:
    """Run an eval to completion and return the artifact dict (camelCase wire form).

    Same arguments and errors as :func:`stream_eval`.
    """
    stream = stream_eval(runtime, request, progress=progress)
    async for _ in stream:
        pass
    assert stream.artifact is not None
    return stream.artifact


def run_eval_sync(runtime: Any, request: Any, *,
                  progress: bool | TextIO = False) -> EvalArtifact:
    """Run an eval from synchronous code and return the validated :class:`EvalArtifact`.

    With no running event loop this uses ``asyncio.run``. Inside a running loop (a
    notebook cell) the eval runs on a loop of its own in a helper thread while the cell
    waits: the kernel's loop is never re-entered (no nest-asyncio). The kernel is busy
    until the eval ends; ``await run_eval(...)`` or ``%flowai_eval`` (a live view that
    returns at once) keep it responsive.
    """
    data = run_sync(run_eval(runtime, request, progress=progress))
    return EvalArtifact.model_validate(data)


# --- the run ----------------------------------------------------------------------------

@dataclass
class _Job:
    case: EvalTestCase
    index: int
    thread_id: str
    started: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[SampleResult] | None = None


async def _run(runtime: Any, request: Any, progress: bool | TextIO) -> AsyncIterator[dict]:
    req = parse_eval_request(request)
    cfg = req.config
    tenant = getattr(runtime, "tenant", None)
    if tenant is not None and not req.tenant_matches(tenant):
        shown = req.tenant.key if hasattr(req.tenant, "key") else req.tenant
        raise ValueError(f"eval request is for tenant {shown!r} but the runtime serves "
                         f"{tenant.key!r}; run it on that tenant's runtime")
    cases = _select(req)
    target = _target(runtime, cfg)
    run_id = req.eval_run_id or f"eval_{uuid.uuid4().hex[:16]}"
    seq = 0

    def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        return {"type": kind, "evalRunId": run_id, "seq": seq - 1, "data": data}

    nonce = uuid.uuid4().hex[:8]  # threads stay fresh even when eval_run_id is reused
    jobs = [_Job(case, i, f"{run_id}:{case.id}:{i}:{nonce}".replace("/", "_"))
            for case in cases for i in range(cfg.samples_per_case)]
    bar = _Progress(progress, len(jobs), req.name) if progress else None
    yield envelope("eval-start", {
        "name": req.name, "tenant": getattr(tenant, "key", None),
        "caseIds": [c.id for c in cases], "samplesPerCase": cfg.samples_per_case,
        "totalSamples": len(jobs), "config": cfg.to_wire()})

    semaphore = asyncio.Semaphore(cfg.concurrency)
    for job in jobs:
        job.task = asyncio.ensure_future(
            _guarded(runtime, cfg, target, run_id, job, semaphore))
    try:
        for job in jobs[: cfg.concurrency]:
            await job.started.wait()
            yield envelope("sample-start", _start_data(job))
        results: dict[str, list[SampleResult]] = {}
        for n, job in enumerate(jobs):
            assert job.task is not None
            try:
                sample = await job.task
            except Exception as exc:
                raise RuntimeError(f"eval run {run_id} failed on case {job.case.id!r} sample "
                                   f"{job.index}: {type(exc).__name__}: {exc}") from exc
            results.setdefault(job.case.id, []).append(sample)
            if bar:
                bar.update(sample.passed)
            yield envelope("sample-finish", {"caseId": job.case.id, "index": job.index,
                                             "score": sample.score, "passed": sample.passed,
                                             "sample": sample.to_wire()})
            if job.index == cfg.samples_per_case - 1:
                case_result = _case_result(job.case, results[job.case.id], cfg)
                yield envelope("case-finish", case_result.to_wire())
            nxt = n + cfg.concurrency
            if nxt < len(jobs):
                await jobs[nxt].started.wait()
                yield envelope("sample-start", _start_data(jobs[nxt]))
    finally:
        pending = [j.task for j in jobs if j.task is not None and not j.task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for job in jobs:  # mark failures of samples never awaited as retrieved
            if job.task is not None and job.task.done() and not job.task.cancelled():
                job.task.exception()
        if bar:
            bar.close()

    case_results = [_case_result(c, results[c.id], cfg) for c in cases]
    aggregate = aggregate_cases(cfg.aggregation_strategy,
                                [c.pass_rate for c in case_results],
                                [c.mean_score for c in case_results],
                                [c.pass_at_k for c in case_results])
    artifact = EvalArtifact(
        eval_run_id=run_id, name=req.name, tenant=getattr(tenant, "key", None), config=cfg,
        test_cases=tuple(case_results), aggregate_score=aggregate,
        passed=aggregate >= cfg.pass_threshold, summary=_summary(case_results))
    yield envelope("eval-finish", artifact.to_wire())


def _start_data(job: _Job) -> dict[str, Any]:
    return {"caseId": job.case.id, "index": job.index, "threadId": job.thread_id}


def _select(req: EvalRequest) -> list[EvalTestCase]:
    wanted = req.config.tags_filter
    if not wanted:
        return list(req.test_cases)
    cases = [c for c in req.test_cases if set(c.tags) & set(wanted)]
    if not cases:
        present = sorted({t for c in req.test_cases for t in c.tags})
        raise ValueError(f"tags_filter {list(wanted)} matches no test case; tags present: "
                         f"{present}")
    return cases


def _target(runtime: Any, cfg: EvalConfig) -> str | None:
    """The agent a non-sequential mode runs (validated against the runtime's spec)."""
    if cfg.mode == "sequential":
        return None
    spec = getattr(runtime, "spec", None)
    agents = list(getattr(spec, "agents", ()) or ())
    if cfg.target_agent_id:
        names = [a.name for a in agents]
        if agents and cfg.target_agent_id not in names:
            raise ValueError(f"target_agent_id {cfg.target_agent_id!r} is not an agent of this "
                             f"runtime; known agents: {names}")
        return cfg.target_agent_id
    of_role = [a.name for a in agents if a.role == cfg.mode]
    if len(of_role) != 1:
        raise ValueError(f"mode {cfg.mode!r} needs target_agent_id: the runtime has "
                         f"{len(of_role)} {cfg.mode} agents {of_role}")
    return of_role[0]


async def _guarded(runtime: Any, cfg: EvalConfig, target: str | None, run_id: str, job: _Job,
                   semaphore: asyncio.Semaphore) -> SampleResult:
    async with semaphore:
        job.started.set()
        return await _run_sample(runtime, cfg, target, run_id, job)


def _approvals(case: EvalTestCase) -> Any:
    """The headless approval policy of one sample: the case's decisions in order, then
    approve (the default) for any further gate, so a sample never waits for a person."""
    if case.approvals is None:
        return "auto_approve"
    queue = [d.to_engine() for d in case.approvals]

    def decide(request: dict[str, Any]) -> Any:
        return queue.pop(0) if queue else "approve"

    return decide


def _open_stream(runtime: Any, cfg: EvalConfig, target: str | None, run_id: str,
                 job: _Job) -> Any:
    case = job.case
    approvals = _approvals(case)
    options = RunOptions(eval_run_id=run_id, test_case_id=case.id)
    if cfg.mode == "sequential":
        return runtime.query(case.prompt, job.thread_id, approvals=approvals, options=options)
    if cfg.mode == "specialist":
        return runtime.run_specialist(target, case.prompt, job.thread_id, approvals=approvals,
                                      options=options)
    # planner / executor: the agent is the run's entry agent
    return runtime.run_agent(target, case.prompt, job.thread_id, approvals=approvals,
                             options=options)


async def _run_sample(runtime: Any, cfg: EvalConfig, target: str | None, run_id: str,
                      job: _Job) -> SampleResult:
    rec = _Recorder(cfg.trajectory_kind, getattr(runtime, "get_plan", None))
    start = time.perf_counter()
    stream = _open_stream(runtime, cfg, target, run_id, job)
    verdicts: dict[str, JudgeVerdict] = {}
    try:
        async with asyncio.timeout(cfg.timeout_per_sample_secs):
            async for event in stream:
                rec.feed(event)
            if rec.error is None:
                for scorer in job.case.final_response or ():
                    if scorer.kind == "judge" and scorer.value not in verdicts:
                        verdicts[scorer.value] = await _judge(runtime, cfg, target, job,
                                                              scorer.value, rec.text)
    except asyncio.CancelledError:  # the eval was stopped: stop this sample's run too
        with contextlib.suppress(Exception):
            stream.cancel()
        raise
    except TimeoutError:
        await _cancel(stream, rec)
        return SampleResult(index=job.index, score=0.0, passed=False,
                            trajectory=tuple(rec.trajectory), actions=tuple(rec.actions()),
                            final_text=rec.text, latency_ms=_ms(start), usage=rec.usage,
                            trace_id=rec.trace_id or _find_trace(runtime, run_id, job),
                            thread_id=job.thread_id, error="timeout")
    output = RawSampleOutput(actual_trajectory=tuple(rec.trajectory),
                             actual_actions=tuple(rec.actions()), final_text=rec.text,
                             judge_verdicts=verdicts)
    if rec.error is not None:
        score, components = 0.0, ()
    else:
        scored = score_sample(job.case, output, config=cfg)
        score, components = scored.aggregate, scored.component_scores
    return SampleResult(
        index=job.index, score=score, passed=rec.error is None and score >= cfg.pass_threshold,
        components=components, trajectory=output.actual_trajectory,
        actions=output.actual_actions, final_text=rec.text, latency_ms=_ms(start),
        usage=rec.usage, trace_id=rec.trace_id, thread_id=job.thread_id, error=rec.error)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


async def _cancel(stream: Any, rec: _Recorder) -> None:
    """Cancel a timed-out sample's run and read its last events (``run-finish`` carries
    the trace id), waiting at most ``_CANCEL_GRACE_SECS``."""
    try:
        stream.cancel()
        async with asyncio.timeout(_CANCEL_GRACE_SECS):
            async for event in stream:
                rec.feed(event)
    except Exception:  # noqa: BLE001 - the sample is already scored as a timeout
        pass


def _find_trace(runtime: Any, run_id: str, job: _Job) -> str | None:
    try:
        traces = runtime.list_traces(eval_run_id=run_id, test_case_id=job.case.id,
                                     thread_id=job.thread_id)
    except Exception:  # noqa: BLE001 - the trace is a convenience on a timed-out sample
        return None
    return traces[0].get("traceId") if traces else None


class _Recorder:
    """What a sample records (see the module doc), read off the run's one fold (RunState)."""

    def __init__(self, kind: str, get_plan: Any = None) -> None:
        self.kind = kind
        self.get_plan = get_plan
        self.state = RunState()

    def feed(self, event: dict[str, Any]) -> None:
        self.state.apply(event)

    @property
    def trajectory(self) -> list[str]:
        if self.kind == "tools":
            return [call.tool for call in self.state.tools.values()]
        if self.kind == "agents":
            return [node.agent for node in self.state.agents.values()]
        return []

    @property
    def text(self) -> str:
        return self.state.text or ""

    @property
    def trace_id(self) -> str | None:
        return self.state.trace_id

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.state.usage or {"inputTokens": 0, "outputTokens": 0})

    @property
    def error(self) -> str | None:
        state = self.state
        if not state.finished or state.status == "completed":
            return None
        return "; ".join(e["message"] for e in state.errors) or f"run {state.status}"

    def actions(self) -> list[dict[str, Any]]:
        stored = [p for p in self.state.plans.values() if p.plan]  # plan-stored in this run
        plans = {_base_id(p.plan_id): _actions(_kept(p)) for p in stored}
        executed = [pid for pid, p in self.state.plans.items() if p.action_statuses]
        for plan_id in executed:
            if self.get_plan is None:
                continue
            try:
                record = self._stored(plan_id)
            except Exception:  # noqa: BLE001 - a plan we cannot read adds nothing
                continue
            ran = record.get("dispatchedActions")  # what ran: partial approvals applied
            if ran is not None or _base_id(plan_id) not in plans:
                plans[_base_id(plan_id)] = _actions(ran if ran is not None
                                                    else record.get("actions"))
        return [a for plan in plans.values() for a in plan]


    def _stored(self, plan_id: str) -> dict[str, Any]:
        """The plan as the run resolved it: its thread's, else the one thread that has it."""
        try:
            return self.get_plan(plan_id, thread_id=self.state.thread_id)
        except LookupError:
            return self.get_plan(plan_id)


def _base_id(plan_id: str) -> str:
    base, sep, version = plan_id.rpartition("@v")
    return base if sep and version.isdigit() else plan_id


def _kept(plan: Any) -> list[dict[str, Any]]:
    """A plan's actions less those a partial approval left out."""
    return [a for i, a in enumerate(plan.actions) if plan.action_status(i) != "deselected"]


def _actions(actions: Any) -> list[dict[str, Any]]:
    return [{"kind": a.get("kind"), "payload": a.get("payload", {})} for a in actions or ()]


async def _judge(runtime: Any, cfg: EvalConfig, target: str | None, job: _Job, question: str,
                 final_text: str) -> JudgeVerdict:
    """Ask the runtime's interpreter one yes/no question in a single model turn.

    The answer's first word decides (``yes`` -> pass, ``no`` -> fail); anything else, or
    an interpreter error, is a verdict with an ``error`` (the scorer then scores 0).
    """
    from flowai_nb.interpreters.base import TextDelta, TurnRequest

    interpreter = getattr(runtime, "interpreter", None)
    if interpreter is None or not hasattr(interpreter, "turn"):
        return JudgeVerdict(error="the runtime has no interpreter to ask")
    prompt = (f"Task given to the assistant:\n{job.case.prompt}\n\nAssistant's final answer:\n"
              f"{final_text}\n\nQuestion: {question}\nAnswer yes or no.")
    request = TurnRequest(
        agent=cfg.judge_agent, role="specialist", model=_judge_model(runtime, cfg, target),
        system=_JUDGE_SYSTEM, messages=[{"role": "user",
                                          "content": [{"type": "text", "text": prompt}]}],
        tools=[], thread_id=f"{job.thread_id}:judge", run_id=f"{job.thread_id}:judge")
    text = ""
    try:
        async for event in interpreter.turn(request):
            if isinstance(event, TextDelta):
                text += event.text
    except Exception as exc:  # noqa: BLE001 - a judge that errors counts as a fail
        return JudgeVerdict(error=f"{type(exc).__name__}: {exc}")
    words = text.strip().split()
    word = words[0].strip(".,!:;\"'").lower() if words else ""
    if word not in ("yes", "no"):
        return JudgeVerdict(error=f"judge answered {text.strip()[:60]!r}, expected yes or no")
    return JudgeVerdict(verdict=word == "yes", reason=text.strip()[:200])


def _judge_model(runtime: Any, cfg: EvalConfig, target: str | None) -> str | None:
    agents = list(getattr(getattr(runtime, "spec", None), "agents", ()) or ())
    pick = next((a for a in agents if a.name == target), None) or next(
        (a for a in agents if a.role == "coordinator"), None) or (agents[0] if agents else None)
    model = getattr(pick, "model", None)
    return getattr(model, "id", model)


# --- aggregation ------------------------------------------------------------------------

def _case_result(case: EvalTestCase, samples: list[SampleResult], cfg: EvalConfig) -> CaseResult:
    n = len(samples)
    c = sum(s.passed for s in samples)
    rate = c / n if n else 0.0
    mean = sum(s.score for s in samples) / n if n else 0.0
    pak = {k: pass_at_k(n, c, k) for k in cfg.ks if k <= n}
    alone = aggregate_cases(cfg.aggregation_strategy, [rate], [mean], [pak]) if pak else 0.0
    return CaseResult(id=case.id, tags=case.tags, samples=tuple(samples), pass_rate=rate,
                      mean_score=mean, pass_at_k=pak, passed=alone >= cfg.pass_threshold)


def _summary(cases: list[CaseResult]) -> dict[str, Any]:
    samples = [s for c in cases for s in c.samples]
    latencies = [s.latency_ms for s in samples]
    costs = [s.usage.get("costUsd") for s in samples if s.usage.get("costUsd") is not None]
    return {
        "cases": len(cases),
        "passedCases": sum(c.passed for c in cases),
        "samples": len(samples),
        "passedSamples": sum(s.passed for s in samples),
        "failedSamples": sum(not s.passed for s in samples),
        "errors": sum(s.error is not None and s.error != "timeout" for s in samples),
        "timeouts": sum(s.error == "timeout" for s in samples),
        "latencyMs": {"mean": statistics.fmean(latencies) if latencies else 0.0,
                      "p50": statistics.median(latencies) if latencies else 0.0,
                      "max": max(latencies, default=0.0)},
        "usage": {"inputTokens": sum(s.usage.get("inputTokens") or 0 for s in samples),
                  "outputTokens": sum(s.usage.get("outputTokens") or 0 for s in samples)},
        "costUsd": sum(costs) if costs else None,
    }


class _Progress:
    """A one-line, tqdm-style progress bar redrawn with ``\\r``."""

    def __init__(self, target: bool | TextIO, total: int, name: str | None) -> None:
        self.out: TextIO = sys.stderr if target is True else target  # type: ignore[assignment]
        self.total, self.done, self.passed = total, 0, 0
        self.label = name or "eval"
        self.t0 = time.perf_counter()
        self._draw()

    def update(self, passed: bool) -> None:
        self.done += 1
        self.passed += passed
        self._draw()

    def _draw(self) -> None:
        width = 24
        filled = width * self.done // self.total if self.total else width
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        self.out.write(f"\r{self.label}: {self.done}/{self.total} |{'█' * filled}"
                       f"{' ' * (width - filled)}| {self.passed} passed, {rate:.1f} samples/s")
        self.out.flush()

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()
