"""Conversation history is an append-only log: one small write per finished turn,
never a rewrite of what is stored, and exact across runtimes and a paused resume."""

from __future__ import annotations

from typing import Any

import flowai_nb as fa
from flowai_nb.storage.base import KeyValueStore

from .conftest import Dispatcher, build_spec, collect, count_messages, run
from .test_resume import run_until_gate


class _Counting(KeyValueStore):
    """A store that counts what is written to it and what is read back."""

    kind = "counting"

    def __init__(self, inner: KeyValueStore) -> None:
        self.inner, self.writes, self.read_values = inner, [], 0

    def get(self, key):
        return self.inner.get(key)

    def put(self, key, value, *, ttl_ms=None):
        self.writes.append([("put", key, value)])
        self.inner.put(key, value, ttl_ms=ttl_ms)

    def add(self, key, value, *, ttl_ms=None):
        self.writes.append([("add", key, value)])
        return self.inner.add(key, value, ttl_ms=ttl_ms)

    def delete(self, key):
        return self.inner.delete(key)

    def items(self, prefix=""):
        found = self.inner.items(prefix)
        self.read_values += len(found)
        return found

    def items_after(self, prefix, after):
        found = self.inner.items_after(prefix, after)
        self.read_values += len(found)
        return found

    def write(self, ops):
        ops = list(ops)
        self.writes.append(ops)
        return self.inner.write(ops)


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [c.get("text", c.get("type")) for m in messages for c in m["content"]]


def _sqlite_runtime(path, scripts=None, dispatcher=None) -> fa.Runtime:
    spec = build_spec(scripts, storage={"kv": {"kind": "sqlite", "config": {"path": str(path)}}})
    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher)


def test_each_turn_appends_one_small_chunk_and_never_rewrites_history() -> None:
    turns = 30
    rt = fa.create_runtime(build_spec({"router": [{"text": f"answer {i}"}
                                                  for i in range(turns)]}),
                           interpreter="scripted")
    services = rt._run_services
    counting = _Counting(services.memory)
    services.memory = counting
    seen = count_messages(rt)
    for i in range(turns):
        run(collect(rt.query(f"question {i}", "t1")))

    assert seen == [1 + 2 * i for i in range(turns)]  # the model saw the whole conversation
    # one write per turn, holding only that turn's question and answer
    assert len(counting.writes) == turns
    for i, ops in enumerate(counting.writes):
        assert [(op, key) for op, key, _ in ops] == [("add", f"history/t1/router/{i:010d}")]
        assert _texts(ops[0][2]) == [f"question {i}", f"answer {i}"]
    # the live runtime never read its own chunks back from the store
    assert counting.read_values == 0
    router = rt.spec.agent("router")
    assert _texts(services.history(router, "t1")) == [
        t for i in range(turns) for t in (f"question {i}", f"answer {i}")]


def test_a_second_runtime_sees_the_history_and_both_keep_appending(tmp_path) -> None:
    db = tmp_path / "kv.db"
    script = {"router": [{"text": "a1"}, {"text": "a2"}, {"text": "a3"}]}  # cursor is stored
    first, second = _sqlite_runtime(db, script), _sqlite_runtime(db, script)
    run(collect(first.query("q1", "t")))
    run(collect(second.query("q2", "t")))  # reads q1/a1 from the store
    run(collect(first.query("q3", "t")))  # its cache picks up q2/a2 written by `second`
    router = first.spec.agent("router")
    expected = ["q1", "a1", "q2", "a2", "q3", "a3"]
    assert _texts(first._run_services.history(router, "t")) == expected
    assert _texts(_sqlite_runtime(db)._run_services.history(router, "t")) == expected


def test_concurrent_appenders_lose_nothing(tmp_path) -> None:
    db = tmp_path / "kv.db"
    one, two = _sqlite_runtime(db)._run_services, _sqlite_runtime(db)._run_services
    router = one.spec.agent("router")
    assert one.history(router, "t") == two.history(router, "t") == []  # both caches warm
    one.save_history(router, "t", [{"role": "user", "content": [{"type": "text", "text": "x"}]}])
    # `two` appends at the same position it believes is next: it goes after `one`'s chunk
    two.save_history(router, "t", [{"role": "user", "content": [{"type": "text", "text": "y"}]}])
    fresh = _sqlite_runtime(db)._run_services
    assert _texts(fresh.history(router, "t")) == ["x", "y"]
    assert _texts(one.history(router, "t")) == ["x", "y"]


def test_history_written_as_one_value_before_the_log_is_still_read() -> None:
    rt = fa.create_runtime(build_spec({"router": [{"text": "new answer"}]}),
                           interpreter="scripted")
    services = rt._run_services
    old = [{"role": "user", "content": [{"type": "text", "text": "old question"}]},
           {"role": "assistant", "content": [{"type": "text", "text": "old answer"}]}]
    services.memory.put("history/t/router", old)
    run(collect(rt.query("new question", "t")))
    assert _texts(services.history(rt.spec.agent("router"), "t")) == [
        "old question", "old answer", "new question", "new answer"]


def test_a_sub_agent_thread_below_a_key_does_not_leak_into_history() -> None:
    # sub-agents keep history on thread ``<thread>/<agent>``: its chunks live under the
    # key prefix of the parent thread's log and must not be read as part of it
    services = fa.create_runtime(build_spec(), interpreter="scripted")._run_services
    router = services.spec.agent("router")
    msg = [{"role": "user", "content": [{"type": "text", "text": "top"}]}]
    services.save_history(router, "t/router", [{"role": "user", "content": [{"type": "text",
                                                                              "text": "deep"}]}])
    services.save_history(router, "t", msg)
    services.history_log._cache.clear()
    assert _texts(services.history(router, "t")) == ["top"]
    assert _texts(services.history(router, "t/router")) == ["deep"]


def test_resume_in_another_runtime_appends_the_paused_turn_exactly_once(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    first = run(run_until_gate(_sqlite_runtime(db, dispatcher=dispatcher)
                               .query("restock", "t1")))
    gate = first[-1]
    fresh = _sqlite_runtime(db, dispatcher=dispatcher)
    run(fresh.respond_to_approval(gate["approvalId"], "approve"))
    run(collect(fresh.query(None, "t1", resume=gate["resumeToken"])))
    history = fresh._run_services.history(fresh.spec.agent("router"), "t1")
    assert history[0]["content"][0]["text"] == "restock"
    assert history[-1]["content"][0]["text"] == "All done."
    assert sum(m["role"] == "user" and m["content"][0].get("text") == "restock"
               for m in history) == 1
    again = _sqlite_runtime(db)._run_services.history(fresh.spec.agent("router"), "t1")
    assert again == history


def test_a_turns_history_is_committed_with_the_runs_end(tmp_path, monkeypatch) -> None:
    """On the engine store the history chunk rides on the run's last transaction, with
    its trace and journal: no separate write, and never one without the other."""
    from flowai_nb.storage.sqlite import SqliteStore

    writes: list[list[str]] = []
    original = SqliteStore.write

    def counting(self, ops):
        ops = list(ops)
        writes.append([key.split("/", 2)[-1] for _, key, _ in ops])
        return original(self, ops)

    monkeypatch.setattr(SqliteStore, "write", counting)
    rt = _sqlite_runtime(tmp_path / "kv.db", {"router": [{"text": "a1"}]})
    events = run(collect(rt.query("q1", "t")))
    with_history = [keys for keys in writes if any(k.startswith("history/") for k in keys)]
    assert len(with_history) == 1
    assert "history/t/router/0000000000" in with_history[0]
    assert f"traces/{events[-1]['traceId']}" in with_history[0]
    assert any(k.startswith(f"journal/{events[-1]['runId']}/") for k in with_history[0])


def test_an_append_from_another_runtime_during_the_run_goes_first(tmp_path) -> None:
    db = tmp_path / "kv.db"
    other = _sqlite_runtime(db)._run_services
    router = other.spec.agent("router")
    assert other.history(router, "t") == []

    def meanwhile(event: dict) -> None:  # after this run read the history, before it ends
        if event["type"] == "agent-finish":
            other.save_history(router, "t", [{"role": "user",
                                               "content": [{"type": "text", "text": "x"}]}])

    spec = build_spec({"router": [{"text": "a1"}]},
                      storage={"kv": {"kind": "sqlite", "config": {"path": str(db)}}})
    rt = fa.create_runtime(spec, interpreter="scripted", event_hooks=[meanwhile])
    events = run(collect(rt.query("q1", "t")))
    assert events[-1]["status"] == "completed"
    assert rt.get_trace(events[-1]["traceId"])["status"] == "completed"
    # the run's chunk lost the race for chunk 0 and went after the other writer's
    assert _texts(_sqlite_runtime(db)._run_services.history(router, "t")) == ["x", "q1", "a1"]
    assert _texts(rt._run_services.history(router, "t")) == ["x", "q1", "a1"]
