"""The Redis store's key index: data from before the index, expired entries, concurrent openers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowai_nb.storage import open_store

pytestmark = pytest.mark.redis

_ROOT = Path(__file__).resolve().parents[2]
_INDEX = "\x00flowai_nb/keys"


def _raw(url: str):  # noqa: ANN202 - a redis.Redis client
    import redis

    return redis.Redis.from_url(url, decode_responses=True)


def test_keys_written_before_the_index_existed_are_found_after_opening(
        fresh_redis_url: str) -> None:
    with _raw(fresh_redis_url) as raw:  # what a store of an earlier release left behind
        for i in range(2500):
            raw.set(f"t/traces/{i:05d}", f'{{"n": {i}}}')
        raw.set("t/approvals-pending/ap-1", '"waiting"')
        raw.set("t/lease/run-1", '"owner"', px=60_000)
        raw.set("t/lease/run-2", '"gone"', px=1)
        raw.hset("t/not-a-string", "f", "v")  # someone else's key: never listed
    time.sleep(0.05)
    store = open_store({"kind": "redis", "url": fresh_redis_url})
    try:
        traces = store.items("t/traces/")
        assert len(traces) == 2500
        assert traces[7] == ("t/traces/00007", {"n": 7})
        assert store.items("t/approvals-pending/") == [("t/approvals-pending/ap-1", "waiting")]
        assert store.keys("t/lease/") == ["t/lease/run-1"]
        assert "t/not-a-string" not in store.keys("t/")
        assert store.items_after("t/traces/", "t/traces/02497") == [
            ("t/traces/02498", {"n": 2498}), ("t/traces/02499", {"n": 2499})]
        assert store.delete("t/traces/00000") is True
        assert store.keys("t/traces/")[0] == "t/traces/00001"
    finally:
        store.close()


def test_an_index_entry_left_by_an_expired_key_is_not_returned_and_goes_away(
        fresh_redis_url: str) -> None:
    store = open_store({"kind": "redis", "url": fresh_redis_url})
    try:
        store.put("refs/kept", "k")
        store.put("refs/other", "o")
        store.put("refs/gone", "g", ttl_ms=1)
        time.sleep(0.05)
        with _raw(fresh_redis_url) as raw:
            raw.delete("refs/other")  # gone behind the store's back, like an expired key
            assert raw.zcard(_INDEX) == 3  # both keys are gone, their entries are still there
            assert store.items("refs/") == [("refs/kept", "k")]
            assert store.read(["refs/gone"], ["refs/"]) == ([None], [[("refs/kept", "k")]])
            assert raw.zcard(_INDEX) == 1  # the read dropped the entries it met
            for i in range(100):  # writes drop entries whose expiry passed, a few at a time
                store.put(f"leases/l{i:03d}", i, ttl_ms=1)
            time.sleep(0.05)
            store.put("leases/kept", "k")
            assert raw.zcard(_INDEX) <= 2 + 16
            for _ in range(6):
                store.write([("put", "other", 1)])
            assert raw.zcard(_INDEX) == 3
            assert store.keys() == ["leases/kept", "other", "refs/kept"]
    finally:
        store.close()


def test_store_keys_cannot_be_the_index_s_own(fresh_redis_url: str) -> None:
    store = open_store({"kind": "redis", "url": fresh_redis_url})
    try:
        for call in (lambda: store.put(_INDEX, 1), lambda: store.get(_INDEX),
                     lambda: store.write([("put", "\x00flowai_nb/x", 1)])):
            with pytest.raises(ValueError, match="redis store's own"):
                call()
        store.put("k", 1)
        assert store.keys() == ["k"]
    finally:
        store.close()


def test_stores_opening_an_unindexed_database_at_once_index_it_safely(
        fresh_redis_url: str) -> None:
    with _raw(fresh_redis_url) as raw:
        with raw.pipeline(transaction=False) as pipe:
            for i in range(20_000):
                pipe.set(f"old/{i:05d}", str(i))
            pipe.execute()
    # Four processes open the store at once; each then deletes its own share of the old
    # keys and writes new ones while the others may still be indexing.
    code = textwrap.dedent("""
        import sys
        from flowai_nb.storage import open_store
        url, me = sys.argv[1], int(sys.argv[2])
        print("ready", flush=True)
        sys.stdin.readline()  # all four open at once
        store = open_store({"kind": "redis", "url": url})
        complete = len(store.keys("old/")) >= 20_000 - 4 * 500  # the others delete 500 each
        for i in range(me, 20_000, 40):
            assert store.delete(f"old/{i:05d}")
        store.write([("put", f"new/{me}-{j}", j) for j in range(50)])
        left = set(store.keys("old/"))
        mine_gone = all(f"old/{i:05d}" not in left for i in range(me, 20_000, 40))
        mine_new = len(store.keys(f"new/{me}-")) == 50
        print(complete and mine_gone and "old/00005" in left and mine_new)
        store.close()
    """)
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, fresh_redis_url, str(me)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
             for me in range(4)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "True"
    deleted = {f"old/{i:05d}" for me in range(4) for i in range(me, 20_000, 40)}
    store = open_store({"kind": "redis", "url": fresh_redis_url})
    try:
        assert store.keys("old/") == sorted({f"old/{i:05d}" for i in range(20_000)} - deleted)
        assert store.items("old/00005") == [("old/00005", 5)]
        assert len(store.keys("new/")) == 200
    finally:
        store.close()
