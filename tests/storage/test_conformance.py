"""One behaviour suite that every store kind must pass (memory, sqlite, duckdb, postgres, redis)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flowai_nb.storage import KeyValueStore, open_store

_ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


# --- basic map behaviour ---------------------------------------------------------------------

def test_put_get_overwrite_delete(store: KeyValueStore) -> None:
    value = {"text": "héllo ✓", "n": 3, "ratio": 0.5, "ok": True, "none": None, "list": [1, "a"]}
    assert store.get("k") is None
    store.put("k", value)
    assert store.get("k") == value
    assert "k" in store
    store.put("k", [1, 2, 3])
    assert store.get("k") == [1, 2, 3]
    assert store.delete("k") is True
    assert store.get("k") is None
    assert "k" not in store
    assert store.delete("k") is False


def test_values_round_trip_as_json(store: KeyValueStore) -> None:
    store.put("tuple", (1, 2))
    store.put("intkeys", {1: "a"})
    store.put("scalar", "just text")
    assert store.get("tuple") == [1, 2]
    assert store.get("intkeys") == {"1": "a"}
    assert store.get("scalar") == "just text"


def test_items_and_keys_are_sorted_and_filtered_by_prefix(store: KeyValueStore) -> None:
    for key in ["run/2", "run/10", "run/1", "plan/1", "runner", "Run/1"]:
        store.put(key, key.upper())
    assert store.keys() == sorted(["run/2", "run/10", "run/1", "plan/1", "runner", "Run/1"])
    assert store.keys("run/") == ["run/1", "run/10", "run/2"]
    assert store.items("run/") == [("run/1", "RUN/1"), ("run/10", "RUN/10"), ("run/2", "RUN/2")]
    assert store.keys("run") == ["run/1", "run/10", "run/2", "runner"]  # case-sensitive
    assert store.items("nothing") == []
    assert list(store) == store.keys()


_AWKWARD = [
    "a%b/1", "a%c", "a_b/1", "axb/1", "a*b", "a?b", "a[b]", "a]b", "ab", "a\\b", "A%b",
    "a-b", "a^b", "a.b", "a'b", 'a"b', "a b", "a\tb",
]


@pytest.mark.parametrize("prefix", ["a%", "a_", "a*", "a?", "a[", "a[b", "a]", "a\\", "a^",
                                    "a-", "a.", "a'", 'a"', "a "])
def test_prefixes_with_wildcard_characters_match_literally(
    store: KeyValueStore, prefix: str
) -> None:
    for key in _AWKWARD:
        store.put(key, key)
    expected = sorted(k for k in _AWKWARD if k.startswith(prefix))
    assert expected, "each prefix must select something"
    assert store.keys(prefix) == expected
    assert store.items(prefix) == [(k, k) for k in expected]


def test_non_ascii_keys_and_prefixes(store: KeyValueStore) -> None:
    keys = ["é/1", "e/1", "日本/1", "日本/2", "日本語", "😀a", "😀b", "\U0010ffffz", "\U0010ffff"]
    for key in keys:
        store.put(key, key)
    assert store.keys() == sorted(keys)
    assert store.keys("日本/") == ["日本/1", "日本/2"]
    assert store.keys("日本") == ["日本/1", "日本/2", "日本語"]
    assert store.keys("😀") == ["😀a", "😀b"]
    assert store.keys("\U0010ffff") == ["\U0010ffff", "\U0010ffffz"]
    assert store.get("日本語") == "日本語"


# --- expiry --------------------------------------------------------------------------------

def test_entries_expire_after_their_ttl(store: KeyValueStore, expire: Callable[[], None]) -> None:
    store.put("short", 1, ttl_ms=1)
    store.put("long", 2, ttl_ms=60_000)
    store.put("forever", 3)
    expire()
    assert store.get("short") is None
    assert "short" not in store
    assert store.keys() == ["forever", "long"]
    assert store.items() == [("forever", 3), ("long", 2)]
    assert store.delete("short") is False
    assert store.get("long") == 2


def test_put_replaces_the_ttl(store: KeyValueStore, expire: Callable[[], None]) -> None:
    store.put("k", "temporary", ttl_ms=1)
    store.put("k", "kept")
    store.put("j", "kept", ttl_ms=60_000)
    store.put("j", "temporary", ttl_ms=1)
    expire()
    assert store.get("k") == "kept"
    assert store.get("j") is None


def test_add_only_stores_when_absent_or_expired(store: KeyValueStore,
                                                expire: Callable[[], None]) -> None:
    assert store.add("k", "first") is True
    assert store.add("k", "second") is False
    assert store.get("k") == "first"
    store.delete("k")
    assert store.add("k", "third") is True
    assert store.get("k") == "third"

    assert store.add("lease", "old", ttl_ms=1) is True
    expire()
    assert store.add("lease", "new", ttl_ms=60_000) is True
    assert store.get("lease") == "new"
    assert store.add("lease", "newer") is False
    assert store.get("lease") == "new"


def test_get_many_reads_several_keys_in_order(store: KeyValueStore,
                                              expire: Callable[[], None]) -> None:
    store.put("b", {"n": 2})
    store.put("a", [1])
    store.put("short", 1, ttl_ms=1)
    expire()
    assert store.get_many(["b", "missing", "a", "short", "b"]) == [{"n": 2}, None, [1], None,
                                                                   {"n": 2}]
    assert store.get_many([]) == []
    store.scoped("t").put("a", "scoped")
    assert store.scoped("t").get_many(["a", "b"]) == ["scoped", None]
    with pytest.raises(TypeError):
        store.get_many(["a", 3])  # type: ignore[list-item]


def test_read_gets_keys_and_prefixed_items_together(store: KeyValueStore,
                                                     expire: Callable[[], None]) -> None:
    for key in ["log/run-1/2", "log/run-1/10", "log/run-10/1", "log/run-1x", "a", "b"]:
        store.put(key, key.upper())
    store.put("log/run-1/gone", 1, ttl_ms=1)
    store.put("gone", 1, ttl_ms=1)
    expire()
    values, groups = store.read(["b", "missing", "gone", "a", "log/run-1/2"],
                                ["log/run-1/", "nothing/", "log/run-1"])
    assert values == ["B", None, None, "A", "LOG/RUN-1/2"]
    assert groups == [[("log/run-1/10", "LOG/RUN-1/10"), ("log/run-1/2", "LOG/RUN-1/2")], [],
                      [("log/run-1/10", "LOG/RUN-1/10"), ("log/run-1/2", "LOG/RUN-1/2"),
                       ("log/run-10/1", "LOG/RUN-10/1"), ("log/run-1x", "LOG/RUN-1X")]]
    assert store.read([], []) == ([], [])
    assert store.read(["a"]) == (["A"], [])
    assert store.read([], ["log/run-10/"]) == ([], [[("log/run-10/1", "LOG/RUN-10/1")]])
    scoped = store.scoped("t")
    scoped.put("log/1", "s")
    assert scoped.read(["log/1", "a"], ["log/"]) == (["s", None], [[("log/1", "s")]])
    hostile = "x'); DROP TABLE kv; --"
    assert store.read([hostile], [hostile, "%", "_"]) == ([None], [[], [], []])
    with pytest.raises(TypeError):
        store.read(["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        store.read([], [None])  # type: ignore[list-item]


def test_prefix_reads_return_only_their_prefix_and_live_keys(store: KeyValueStore,
                                                             expire: Callable[[], None]) -> None:
    neighbours = ["t/a", "t/a/", "t/a/1", "t/a/2/x", "t/a0", "t/a-", "t/aa", "t/b/1", "t/", "t",
                  "s/a/1", "u/a/1", "t/a\U0010ffff", "t/b"]
    for key in neighbours:
        store.put(key, key)
    for key in ["t/a/gone", "t/a/3", "t/b/gone"]:
        store.put(key, "old", ttl_ms=1)
    store.add("t/a/added-gone", "old", ttl_ms=1)
    expire()
    store.put("t/a/3", "again")  # an expired key written again is listed again
    assert store.add("t/b/gone", "again") is True
    under_a = ["t/a/", "t/a/1", "t/a/2/x", "t/a/3"]
    expected = {k: k for k in neighbours} | {"t/a/3": "again", "t/b/gone": "again"}
    assert store.items("t/a/") == [(k, expected[k]) for k in under_a]
    assert store.items_after("t/a/", "t/a/1") == [(k, expected[k]) for k in under_a[2:]]
    assert store.items_after("t/a/", "s") == [(k, expected[k]) for k in under_a]
    assert store.items_after("t/a/", "t/a/4") == []
    assert store.items_after("t/a/", "t/b") == []
    assert store.keys("t/a") == sorted(k for k in expected if k.startswith("t/a"))
    assert store.keys("t/b") == ["t/b", "t/b/1", "t/b/gone"]
    values, groups = store.read(["t/a/gone", "t/a/3"], ["t/a/", "t/b/", "t/c/"])
    assert values == [None, "again"]
    assert groups == [[(k, expected[k]) for k in under_a],
                      [("t/b/1", "t/b/1"), ("t/b/gone", "again")], []]
    assert store.keys() == sorted(expected)
    store.delete("t/a/1")
    assert store.write([("delete", "t/a/2/x", None), ("put", "t/a/4", 4)]) is True
    assert store.keys("t/a/") == ["t/a/", "t/a/3", "t/a/4"]


def test_prefix_reads_of_many_keys_list_each_live_key_once(store: KeyValueStore,
                                                           expire: Callable[[], None]) -> None:
    many = [f"log/run-1/{i:04d}" for i in range(700)]
    store.write([("put", key, i) for i, key in enumerate(many)])
    store.write([("put", "log/run-10/0000", "x"), ("put", "log/run-0/9999", "y")])
    store.put("log/run-1/0700", "gone", ttl_ms=1)
    expire()
    assert store.items("log/run-1/") == [(key, i) for i, key in enumerate(many)]
    assert store.items_after("log/run-1/", many[99]) == [(key, i) for i, key in
                                                        enumerate(many) if i > 99]
    assert store.read([], ["log/run-1/", "log/run-1"])[1] == [
        [(key, i) for i, key in enumerate(many)],
        [(key, i) for i, key in enumerate(many)] + [("log/run-10/0000", "x")]]
    store.write([("delete", key, None) for key in many[:650]])
    assert store.keys("log/run-1/") == many[650:]
    second = store.scoped("log")  # another view of the same store sees the same keys
    assert second.keys("run-1/") == [key[4:] for key in many[650:]]


def test_add_with_ttl_expires(store: KeyValueStore, expire: Callable[[], None]) -> None:
    assert store.add("k", "v", ttl_ms=1) is True
    expire()
    assert store.get("k") is None
    assert store.keys() == []


def test_write_applies_all_ops_or_none(store: KeyValueStore) -> None:
    store.put("gone", 1)
    store.put("taken", "x")
    scoped = store.scoped("t")
    assert store.write([("put", "a", {"n": 1}), ("add", "b", [2]), ("delete", "gone", None)])
    assert (store.get("a"), store.get("b"), store.get("gone")) == ({"n": 1}, [2], None)
    # an add that finds its key present rolls the whole write back
    assert not store.write([("put", "a", "changed"), ("add", "taken", "y"), ("put", "c", 3)])
    assert (store.get("a"), store.get("taken"), store.get("c")) == ({"n": 1}, "x", None)
    assert scoped.write([("add", "k", 1)]) and store.get("t/k") == 1
    assert store.write([])
    with pytest.raises(TypeError, match="a store write is"):
        store.write([("upsert", "k", 1)])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        store.write([("put", "ok", 1), ("put", "bad", object())])
    assert store.get("ok") is None


def test_ops_on_one_key_in_one_write_apply_in_order(store: KeyValueStore) -> None:
    store.put("kept", 0)
    store.put("dropped", 0)
    assert store.write([("put", "new", 1), ("put", "new", 2), ("delete", "dropped", None),
                        ("delete", "kept", None), ("put", "kept", 3), ("put", "gone", 4),
                        ("delete", "gone", None), ("add", "fresh", 5), ("put", "fresh", 6)])
    assert [store.get(k) for k in ("new", "dropped", "kept", "gone", "fresh")] == [
        2, None, 3, None, 6]
    assert [k for k, _ in store.items("")] == ["fresh", "kept", "new"]
    # a lost guard still rolls back every op, the deletes included
    assert not store.write([("delete", "kept", None), ("put", "x", 1), ("add", "new", 9)])
    assert (store.get("kept"), store.get("x"), store.get("new")) == (3, None, 2)


def test_an_add_sees_the_earlier_ops_of_its_own_write(store: KeyValueStore) -> None:
    store.put("taken", 0)
    # after a delete of its key in the same write, an add wins ...
    assert store.write([("delete", "taken", None), ("add", "taken", 1)])
    assert store.get("taken") == 1
    # ... after a put (or another add) of it, it loses, and nothing of the write is kept
    assert not store.write([("put", "free", 1), ("add", "free", 2)])
    assert not store.write([("add", "other", 1), ("put", "x", 1), ("add", "other", 2)])
    assert (store.get("free"), store.get("other"), store.get("x")) == (None, None, None)
    # delete, put, delete: the key ends absent, so a last add wins
    assert store.write([("delete", "taken", None), ("put", "taken", 2),
                        ("delete", "taken", None), ("add", "taken", 3)])
    assert store.get("taken") == 3


def test_concurrent_writes_with_adds_have_one_winner(store: KeyValueStore) -> None:
    def attempt(i: int) -> bool:
        return store.write([("add", "winner", i), ("put", f"by/{i}", i)])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count(True) == 1
    assert store.keys("by/") == [f"by/{results.index(True)}"]


# --- tenants -------------------------------------------------------------------------------

def test_scoped_stores_isolate_tenants(store: KeyValueStore) -> None:
    a, b, ab = store.scoped("tenant-a"), store.scoped("tenant-b"), store.scoped("tenant-ab")
    a.put("x", "a's")
    b.put("x", "b's")
    ab.put("x", "ab's")
    a.put("y/1", 1)
    assert a.get("x") == "a's"
    assert b.get("x") == "b's"
    assert a.items() == [("x", "a's"), ("y/1", 1)]
    assert b.items() == [("x", "b's")]
    assert ab.keys() == ["x"]
    assert b.get("y/1") is None
    assert b.add("x", "taken?") is False
    assert b.add("y/1", "b's own") is True
    assert a.get("y/1") == 1
    assert a.delete("x") is True
    assert b.get("x") == "b's"
    assert store.keys() == ["tenant-a/y/1", "tenant-ab/x", "tenant-b/x", "tenant-b/y/1"]
    nested = a.scoped("ws-1")
    nested.put("k", "deep")
    assert store.get("tenant-a/ws-1/k") == "deep"
    assert a.keys("ws-1/") == ["ws-1/k"]
    assert b.keys("ws-1/") == []


# --- concurrency ---------------------------------------------------------------------------

def test_concurrent_writers_lose_nothing(store: KeyValueStore) -> None:
    def write(worker: int) -> None:
        for i in range(40):
            store.put(f"w{worker}/{i:02d}", {"worker": worker, "i": i})
            store.put("shared", worker)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    for worker in range(6):
        assert store.items(f"w{worker}/") == [
            (f"w{worker}/{i:02d}", {"worker": worker, "i": i}) for i in range(40)
        ]
    assert store.get("shared") in range(6)


def _race(adders: list[KeyValueStore], key: str) -> list[int]:
    barrier = threading.Barrier(len(adders))

    def attempt(index: int) -> bool:
        barrier.wait()
        return adders[index].add(key, index)

    with ThreadPoolExecutor(len(adders)) as pool:
        results = list(pool.map(attempt, range(len(adders))))
    return [i for i, won in enumerate(results) if won]


def test_add_race_between_threads_has_one_winner(store: KeyValueStore) -> None:
    for round_ in range(5):
        winners = _race([store] * 6, f"race/{round_}")
        assert len(winners) == 1
        assert store.get(f"race/{round_}") == winners[0]


def test_add_race_between_connections_has_one_winner(
    persistent_descriptor: dict[str, Any],
) -> None:
    stores = [open_store(persistent_descriptor) for _ in range(4)]
    try:
        for round_ in range(5):
            winners = _race(stores, f"race/{round_}")
            assert len(winners) == 1
            assert stores[0].get(f"race/{round_}") == winners[0]
    finally:
        for s in stores:
            s.close()


_RACER = """
import json, sys
from flowai_nb.storage import open_store
store = open_store(json.loads(sys.argv[1]))
me = sys.argv[2]
wins = [i for i in range(150) if store.add(f"race/{i}", me)]
for i in range(50):
    store.put(f"{me}/{i}", i)
store.close()
print(json.dumps(wins))
"""


def test_several_processes_share_one_store(shared_descriptor: dict[str, Any]) -> None:
    names = ["p0", "p1", "p2"]
    procs = [_python(_RACER, json.dumps(shared_descriptor), name) for name in names]
    wins = {}
    for name, proc in zip(names, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        wins[name] = set(json.loads(out))
    store = open_store(shared_descriptor)
    try:
        for i in range(150):
            owners = [name for name in names if i in wins[name]]
            assert len(owners) == 1, f"race/{i} won by {owners}"
            assert store.get(f"race/{i}") == owners[0]
        for name in names:
            assert store.items(f"{name}/") == sorted((f"{name}/{i}", i) for i in range(50))
    finally:
        store.close()


# --- durability ----------------------------------------------------------------------------

def test_data_survives_close_and_reopen(persistent_descriptor: dict[str, Any]) -> None:
    first = open_store(persistent_descriptor)
    first.put("plain", {"a": 1})
    first.put("leased", "still here", ttl_ms=600_000)
    first.scoped("tenant-a").put("x", [1, 2])
    first.add("once", "first")
    first.close()

    second = open_store(persistent_descriptor)
    try:
        assert second.get("plain") == {"a": 1}
        assert second.get("leased") == "still here"
        assert second.scoped("tenant-a").items() == [("x", [1, 2])]
        assert second.add("once", "again") is False
    finally:
        second.close()


_CRASHER = """
import json, os, signal, sys
from flowai_nb.storage import open_store
store = open_store(json.loads(sys.argv[1]))
for i in range(100):
    store.put(f"k/{i:03d}", {"i": i})
store.add("added", "yes")
print("acknowledged", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_acknowledged_writes_survive_a_killed_process(
    persistent_descriptor: dict[str, Any],
) -> None:
    proc = _python(_CRASHER, json.dumps(persistent_descriptor))
    out, err = proc.communicate(timeout=120)
    assert out.strip() == "acknowledged", err
    assert proc.returncode == -9
    store = open_store(persistent_descriptor)
    try:
        assert store.items("k/") == [(f"k/{i:03d}", {"i": i}) for i in range(100)]
        assert store.get("added") == "yes"
    finally:
        store.close()


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "type_name"),
    [(object(), "object"), ({1, 2}, "set"), (b"bytes", "bytes"), ({"nested": {1j}}, "dict")],
)
def test_non_json_values_raise_type_error_and_change_nothing(
    store: KeyValueStore, value: Any, type_name: str
) -> None:
    store.put("k", "old")
    with pytest.raises(TypeError, match=type_name):
        store.put("k", value)
    with pytest.raises(TypeError, match=type_name):
        store.add("new", value)
    assert store.get("k") == "old"
    assert store.get("new") is None


def test_nan_and_infinities_are_stored_as_null(store: KeyValueStore) -> None:
    # The package's one JSON rule: a pandas mean of an empty column must not break a save.
    store.put("k", {"mean": math.nan, "hi": math.inf, "rows": [1.5, -math.inf]})
    assert store.get("k") == {"mean": None, "hi": None, "rows": [1.5, None]}
    assert store.add("new", math.nan) and "new" in store.keys()


@pytest.mark.parametrize("key", [1, None, b"k", ("a",)])
def test_non_string_keys_raise_type_error(store: KeyValueStore, key: Any) -> None:
    with pytest.raises(TypeError, match=type(key).__name__):
        store.put(key, 1)
    with pytest.raises(TypeError, match="str"):
        store.get(key)
    with pytest.raises(TypeError, match="str"):
        store.items(key)


@pytest.mark.parametrize("ttl", [0, -5, 1.5, "100", True])
def test_bad_ttl_raises_value_error(store: KeyValueStore, ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl_ms"):
        store.put("k", 1, ttl_ms=ttl)
    with pytest.raises(ValueError, match="ttl_ms"):
        store.add("k", 1, ttl_ms=ttl)
    assert store.get("k") is None


def test_repr_names_kind_and_location(store: KeyValueStore, descriptor: dict[str, Any]) -> None:
    text = repr(store)
    assert store.kind == descriptor["kind"]
    assert f"kind='{descriptor['kind']}'" in text
    location = descriptor.get("path") or descriptor.get("url")
    if location:
        assert location in text
    assert "tenant-a" in repr(store.scoped("tenant-a"))


def test_notify_ops_are_not_stored_and_wake_pushing_stores_listeners(store: KeyValueStore) -> None:
    woken = threading.Event()
    scoped = store.scoped("tenant")
    stop = scoped.listen("journal", woken.set)
    pushes = store.kind in ("postgres", "redis")
    assert (stop is not None) == pushes
    # a notify op is never stored as a key and takes part in the all-or-nothing write
    store.put("taken", 1)
    assert scoped.write([("add", "x", 1), ("notify", "journal", None)]) and scoped.get("x") == 1
    assert not store.write([("add", "taken", 2), ("notify", "tenant/journal", None)])
    assert "journal" not in scoped and store.get("taken") == 1
    if pushes:
        woken.wait(5)  # the listener fires once when it connects
        woken.clear()
        assert store.write([("notify", "tenant/journal", None)])
        assert woken.wait(30), f"{store.kind}: no notice after a committed write"
        stop()


# --- plans on every store kind ----------------------------------------------------------------

def _old_plan(base: str, version: int, thread: str) -> dict[str, Any]:
    return {"id": f"{base}@v{version}", "baseId": base, "version": version, "plan": "p",
            "status": "executed", "body": {}, "actions": [], "history": [], "createdAt": version,
            "updatedAt": version, "author": "planner", "runId": f"run-{version}",
            "threadId": thread}


def test_plans_are_versioned_per_thread_and_the_old_layout_is_moved(store: KeyValueStore) -> None:
    from flowai_nb.engine.errors import AmbiguousPlanError
    from flowai_nb.engine.plans import PlanStore

    kv = store.scoped("tenant/acme")
    # written when versions counted tenant-wide: x@v1 and x@v3 in thread a, x@v2 in b
    kv.write([("put", f"plans/x/v{v}", _old_plan("x", v, t)) for v, t in ((1, "a"), (2, "b"),
                                                                        (3, "a"))]
             + [("put", "plan-executions/x@v2", "run-2")])
    plans = PlanStore(kv)
    assert kv.keys("plans/") == [] and kv.keys("plan-executions/x") == []
    assert [p["id"] for p in plans.list(thread_id="a")] == ["x@v1", "x@v3"]
    assert plans.get("x", thread_id="b")["id"] == "x@v2"
    assert plans.get("x@v3")["threadId"] == "a"
    assert plans.execution_owner("x@v2", thread_id="b") == "run-2"  # the moved claim holds
    assert not kv.write([plans.claim_op("x@v2", "run-9", thread_id="b")])
    stored = plans.store(spec_name="p", body={}, actions=[], base_id="x", author="planner",
                         run_id="run-4", thread_id="b")
    assert stored["id"] == "x@v3" and plans.get("x@v3", thread_id="b")["runId"] == "run-4"

    new = [plans.store(spec_name="p", body={}, actions=[], base_id="y", author="planner",
                       run_id="r", thread_id=t)["id"] for t in ("a", "b", "a")]
    assert new == ["y@v1", "y@v1", "y@v2"]
    assert kv.write([plans.claim_op("y@v1", "run-a", thread_id="a")])
    assert kv.write([plans.claim_op("y@v1", "run-b", thread_id="b")])  # another thread's plan
    assert not kv.write([plans.claim_op("y@v1", "run-c", thread_id="a")])
    assert plans.execution_owner("y@v1", thread_id="a") == "run-a"
    with pytest.raises(AmbiguousPlanError, match=r"'y' exists in 2 threads \('a', 'b'\)"):
        plans.get("y")
    assert plans.get("y@v2")["threadId"] == "a"
    plans.set_status("y@v1", "executing", {"dispatch": []}, thread_id="b")
    assert plans.get("y@v1", thread_id="b")["status"] == "executing"
    assert plans.get("y@v1", thread_id="a")["status"] == "draft"
    before = kv.items()
    PlanStore(kv)  # opening again (another process) changes nothing
    assert kv.items() == before
    assert len(plans.list()) == 7


def test_processes_opening_an_old_plan_layout_at_once_move_each_plan_once(
        store: KeyValueStore) -> None:
    from flowai_nb.engine.plans import PlanStore

    kv = store.scoped("tenant/acme")
    kv.write([("put", f"plans/x{i}/v{v}", _old_plan(f"x{i}", v, f"t{v % 2}"))
              for i in range(20) for v in (1, 2, 3)])
    with ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(lambda _: PlanStore(kv), range(4)))
    assert kv.keys("plans/") == []
    assert len(kv.keys("thread-plans/")) == 60
    for i in range(20):
        assert [p["id"] for p in opened[0].list(thread_id="t1") if p["baseId"] == f"x{i}"] \
            == [f"x{i}@v1", f"x{i}@v3"]
        assert opened[3].get(f"x{i}", thread_id="t0")["id"] == f"x{i}@v2"


class _Minimal(KeyValueStore):
    """A third-party store with only the abstract methods: the base class's fallbacks."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self.data.get(key)

    def put(self, key: str, value: Any, *, ttl_ms: int | None = None) -> None:
        self.data[key] = value

    def add(self, key: str, value: Any, *, ttl_ms: int | None = None) -> bool:
        return self.data.setdefault(key, value) is value

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))


def test_the_fallback_write_of_a_third_party_store_applies_ops_in_order() -> None:
    test_an_add_sees_the_earlier_ops_of_its_own_write(_Minimal())
