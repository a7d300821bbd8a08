"""Studio refuses what it must: no token 401, a foreign Origin 403, a rebinding Host 421."""

from __future__ import annotations

import httpx
import pytest

from .conftest import TOKEN


def test_api_needs_the_token(studio):
    bare = httpx.Client(base_url=studio.url)
    response = bare.get("/api/app")
    assert response.status_code == 401
    assert "login URL" in response.json()["error"]
    assert bare.get("/api/app", headers={"Authorization": "Bearer wrong-token-xyz"}
                    ).status_code == 401
    assert bare.post("/api/workspaces/lisbon/runs", json={"prompt": "hi"}).status_code == 401
    assert bare.get("/api/app", headers={"X-FlowAI-Token": TOKEN}).status_code == 200
    assert studio.client.get("/api/app").json()["workspaces"][0]["name"] == "lisbon"


def test_login_url_sets_a_strict_httponly_cookie(studio):
    browser = httpx.Client(base_url=studio.url)
    assert browser.get("/login", params={"token": "nope-nope-nope"}).status_code == 401
    assert browser.get("/api/app").status_code == 401
    response = browser.get("/login", params={"token": TOKEN})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get("/api/app").status_code == 200  # the cookie now authorises


def test_foreign_origin_is_refused_even_with_the_token(studio):
    evil = {"Origin": "http://evil.example"}
    assert studio.client.get("/api/app", headers=evil).status_code == 403
    assert studio.client.post("/api/workspaces/lisbon/runs", json={"prompt": "x"},
                              headers=evil).status_code == 403
    assert studio.client.get("/api/app", headers={"Sec-Fetch-Site": "cross-site"}
                             ).status_code == 403
    same = {"Origin": studio.url}
    assert studio.client.get("/api/app", headers=same).status_code == 200


def test_rebinding_host_is_refused(studio):
    for host in ("evil.example", "evil.example:80", "127.0.0.1.nip.io"):
        response = studio.client.get("/api/app", headers={"Host": host})
        assert response.status_code == 421, host
        assert "host" in response.json()["error"]
    assert studio.client.get("/", headers={"Host": "evil.example"}).status_code == 421
    assert studio.client.get("/api/app", headers={"Host": "localhost"}).status_code == 200


def test_every_response_forbids_framing(studio):
    for path in ("/", "/api/app", "/static/studio.js", "/widgets/run_view.js"):
        response = studio.client.get(path)
        assert response.status_code == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    refused = httpx.get(f"{studio.url}/api/app")
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]


def test_the_page_is_public_but_holds_no_secret(studio):
    page = httpx.get(f"{studio.url}/")
    assert page.status_code == 200 and TOKEN not in page.text
    assert 'type="module"' in page.text
    assert httpx.get(f"{studio.url}/widgets/../api/app").status_code in (401, 404)
    assert httpx.get(f"{studio.url}/widgets/secret.py").status_code == 404


def test_a_weak_token_is_refused():
    import flowai_nb as fa
    from flowai_nb.studio.server import StudioServer

    app = fa.define_app("x", workspaces=[fa.define_workspace_runtime("w", lambda: None)])
    with pytest.raises(ValueError, match="at least 8"):
        StudioServer(app, token="short")
    with pytest.raises(ValueError, match="port"):
        StudioServer(app, port=70000)


def test_a_studio_that_cannot_listen_raises_in_the_caller(studio):
    """``start_in_thread`` reports a taken port where it was called, not in its thread."""
    from flowai_nb.studio.server import StudioServer

    taken = StudioServer(studio.server.app, port=studio.server.port, token=TOKEN)
    with pytest.raises(OSError):
        taken.start_in_thread()
