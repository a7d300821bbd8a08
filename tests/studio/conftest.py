"""A real Studio server (uvicorn on 127.0.0.1, its own thread and loop) on the demo app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

TOKEN = "studio-test-token-123"


class Studio:
    """A running StudioServer plus an authorised httpx client."""

    def __init__(self, server: Any, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.url = server.url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=30,
                                   headers={"Authorization": f"Bearer {TOKEN}"})

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, f"/api/workspaces/lisbon{path}", **kwargs)

    def events(self, run_id: str, *, after: int | None = None,
               until: str = "run-finish", limit: int = 100) -> list[dict[str, Any]]:
        """Read the run's SSE stream until an event of type ``until``; return the events."""
        import json

        headers = {} if after is None else {"Last-Event-ID": str(after)}
        found: list[dict[str, Any]] = []
        ids: list[str] = []
        with self.client.stream("GET", f"/api/workspaces/lisbon/runs/{run_id}/events",
                                headers=headers) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("id:"):
                    ids.append(line[3:].strip())
                if line.startswith("data:") and line[5:].strip().startswith("["):
                    batch = json.loads(line[5:])
                    found.extend(batch)
                    assert ids and int(ids[-1]) == batch[-1]["seq"]
                    if any(e["type"] == until for e in batch) or len(found) >= limit:
                        break
        return found


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    import flowai_nb as fa
    from flowai_nb.studio.demo import make_runtime
    from flowai_nb.studio.server import StudioServer

    app = fa.define_app("test", workspaces=[
        fa.define_workspace_runtime("lisbon", lambda: make_runtime(tmp_path))])
    server = StudioServer(app, port=0, token=TOKEN).start_in_thread()
    studio = Studio(server, tmp_path)
    try:
        yield studio
    finally:
        studio.client.close()
        server.stop_thread()
        app.close()
