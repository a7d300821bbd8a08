"""SPEC §5.2: followers in this process are woken by another process's journal writes
through the store's push notifications (PostgreSQL LISTEN/NOTIFY, Redis pub/sub)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flowai_nb as fa
from flowai_nb.engine import journal
from tests.servers import *  # noqa: F401,F403 - the redis fixtures

from .conftest import run

ROOT = Path(__file__).resolve().parents[2]


def store_runtime(kind: str, url: str) -> fa.Runtime:
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_coordinator("talker", model="scripted", prompt="Talk.")],
        providers={"scripted": {"scripts": {"talker": [{"text": ["hello ", "from ",
                                                                  "the child"]}]}}},
        storage_factories={"kv": {"kind": kind, "config": {"url": url}}},
    )
    return fa.create_runtime(spec, interpreter="scripted")


CHILD = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, sys.argv[3])
    from tests.engine.test_subscribe_push import store_runtime

    async def main():
        rt = store_runtime(sys.argv[1], sys.argv[2])
        await rt.query("talk", "t1").collect()
        rt.close()
    asyncio.run(main())
""")


def _follow_a_child_run(kind: str, url: str, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    # Polling so slow that only a pushed notice can deliver the run before the guard below.
    monkeypatch.setattr(journal, "POLL_SECONDS", 600.0)
    monkeypatch.setattr(journal, "PUSHED_POLL_SECONDS", 600.0)
    watcher = store_runtime(kind, url)
    try:
        async def follow() -> list[dict]:
            subscription = watcher.subscribe(thread_id="t1")
            assert watcher._run_services.push_wakeups() is True
            first = asyncio.ensure_future(anext(subscription))
            await asyncio.sleep(0.3)  # the subscriber is waiting before the child starts
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, kind, url, str(ROOT), env=env,
                stdout=subprocess.DEVNULL)
            try:
                seen = [await asyncio.wait_for(first, 60)]
                while seen[-1]["type"] != "run-finish":
                    seen.append(await asyncio.wait_for(anext(subscription), 60))
            finally:
                assert await asyncio.wait_for(child.wait(), 60) == 0
            await subscription.aclose()
            return seen

        return run(follow())
    finally:
        watcher.close()


def _check(seen: list[dict]) -> None:
    assert [e["seq"] for e in seen] == list(range(len(seen)))
    assert seen[0]["type"] == "run-start" and seen[-1]["status"] == "completed"
    assert "".join(e["delta"] for e in seen if e["type"] == "text-delta") == \
        "hello from the child"


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_postgres_listen_notify_wakes_a_follower_for_a_run_in_another_process(
        fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(_follow_a_child_run("postgres", fresh_postgres_url, monkeypatch))


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_redis_pubsub_wakes_a_follower_for_a_run_in_another_process(
        fresh_redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(_follow_a_child_run("redis", fresh_redis_url, monkeypatch))


def test_sqlite_has_no_push_and_keeps_polling(tmp_path) -> None:
    rt = fa.create_runtime(fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_coordinator("talker", model="scripted", prompt="Talk.")],
        storage_factories={"kv": {"kind": "sqlite", "config": {"path": str(tmp_path / "k")}}}),
        interpreter="scripted")
    assert rt._run_services.push_wakeups() is False
    assert rt.subscribe(thread_id="t")._poll_seconds == journal.POLL_SECONDS <= 0.1
