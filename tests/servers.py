"""Pytest fixtures that run REAL PostgreSQL and Redis servers on 127.0.0.1.

Each server is started once per test session on a free port, in a temporary
folder, and stopped (folder removed) at the end. Use them from any test
package's ``conftest.py``::

    from tests.servers import *  # noqa: F401,F403

Fixtures:

- ``postgres_url`` (session): ``postgresql://postgres@127.0.0.1:PORT/flowai_test``,
  trust auth, superuser ``postgres``.
- ``fresh_postgres_url`` (function): a new, empty database on that server,
  dropped after the test.
- ``redis_url`` (session): ``redis://127.0.0.1:PORT/0``.
- ``fresh_redis_url`` (function): ``redis://127.0.0.1:PORT/1``, emptied before the test.

When the server binaries are not installed the fixtures skip with a reason
naming the missing binary (``make`` installs them with apt).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["postgres_server", "postgres_url", "fresh_postgres_url", "redis_server", "redis_url",
           "fresh_redis_url"]

_START_TIMEOUT = 60.0  # seconds; the machines are shared and can be slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _find_binary(name: str) -> str:
    """``name`` on PATH or in Debian's versioned PostgreSQL folder; skip when absent."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    pytest.skip(f"{name!r} is not installed (looked on PATH and in /usr/lib/postgresql/*/bin)")


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str):
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}:\n{log.read_text()}")
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - not accepting connections yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready after {_START_TIMEOUT}s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _postgres_os_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: when we are root, it runs as the 'postgres' user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' OS user to run PostgreSQL as")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL server's ``flowai_test`` database (session-wide)."""
    with postgres_server() as url:
        yield url


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Run a throwaway PostgreSQL server; yield its ``flowai_test`` database URL.

    ``durable=False`` (tests) turns fsync off; ``durable=True`` (benchmarks) keeps
    PostgreSQL's defaults, so a commit waits for its WAL flush. Skips (raises
    ``pytest.skip.Exception``) when the binaries are not installed.
    """
    initdb, postgres = _find_binary("initdb"), _find_binary("postgres")
    import psycopg

    user = _postgres_os_user()
    tmp = Path(tempfile.mkdtemp(prefix="flowai-pg-"))
    as_postgres: dict[str, Any] = {}
    if user is not None:
        os.chown(tmp, user.pw_uid, user.pw_gid)
        as_postgres = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    log = tmp / "server.log"
    proc = None
    try:
        init = subprocess.run(
            [initdb, "-D", str(tmp / "data"), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, **as_postgres,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        port = _free_port()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [postgres, "-D", str(tmp / "data"), "-k", str(tmp), "-h", "127.0.0.1",
                 "-p", str(port),
                 *([] if durable else ["-c", "fsync=off", "-c", "full_page_writes=off"])],
                stdout=out, stderr=subprocess.STDOUT, **as_postgres,
            )
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"

        def ready() -> bool:
            with psycopg.connect(admin, connect_timeout=2):
                return True

        _wait_until(ready, proc, log, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE flowai_test")
        yield f"postgresql://postgres@127.0.0.1:{port}/flowai_test"
    finally:
        if proc is not None:
            _stop(proc, signal.SIGINT)  # "fast" shutdown
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database on the session's PostgreSQL server; dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a throwaway Redis server's database 0 (session-wide, no persistence)."""
    with redis_server() as url:
        yield url


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Run a throwaway Redis server (no persistence); yield its database 0 URL.

    Skips (raises ``pytest.skip.Exception``) when ``redis-server`` is not installed.
    """
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("'redis-server' is not installed (looked on PATH)")
    import redis

    tmp = Path(tempfile.mkdtemp(prefix="flowai-redis-"))
    log = tmp / "server.log"
    proc = None
    try:
        port = _free_port()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        url = f"redis://127.0.0.1:{port}/0"

        def ready() -> bool:
            with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
                return bool(client.ping())

        _wait_until(ready, proc, log, "redis-server")
        yield url
    finally:
        if proc is not None:
            _stop(proc, signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fresh_redis_url(redis_url: str) -> str:
    """URL of database 1 on the session's Redis server, emptied before the test."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/1"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url
