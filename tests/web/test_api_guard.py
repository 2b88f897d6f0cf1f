"""# issue #12: every state-changing /api/v1 call made with the session cookie needs the CSRF header,
and a JSON body is read only when it is sent as application/json.

The routes are the ones `mailbeacon serve` builds (`service.build_app`), so a new route
is checked without anyone listing it here; the calls go to a real server, logged in
through the dashboard's login form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mailbeacon.service import Settings, build_app
from mailbeacon.web.openapi import registered_operations
from tests.support.dashboard import Session, add_user
from tests.support.servers import Server, running_server
from tests.web.test_openapi import starlette_of

MESSAGE = {"to": "bob@example.org", "subject": "Hi", "html": "<p>Hi Bob</p>"}


@dataclass
class World:
    server: Server
    session: Session
    api_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("guard") / "data"
    ann = add_user(data, "ann@example.com", "--seat", "sales")
    with running_server(data) as server, Session(server.url) as session:
        assert session.login("ann@example.com").status_code == 303
        yield World(server, session, ann["api_key"])


def state_changing_routes(tmp_path: Path) -> list[tuple[str, str]]:
    app, _, store = build_app(Settings(data_dir=tmp_path / "routes"), worker=1)
    try:
        found = registered_operations(list(starlette_of(app).routes))
    finally:
        store.close()
    return sorted((method, path) for path, method in found if method not in ("GET", "HEAD"))


def sent_messages(world: World) -> int:
    answer = httpx.get(f"{world.server.url}/api/v1/messages", headers={"Authorization": f"Bearer {world.api_key}"},
                       timeout=10)
    return len(answer.json()["messages"])


def test_every_state_changing_call_on_the_session_cookie_needs_the_csrf_header(world: World, tmp_path: Path) -> None:
    routes = state_changing_routes(tmp_path)
    assert ("POST", "/api/v1/messages") in routes and len(routes) >= 5
    client = world.session.client
    for method, path in routes:
        url = re.sub(r"{\w+}", "1", path)
        for headers in ({}, {"x-csrf-token": "not-the-token"}):
            refused = client.request(method, url, json=MESSAGE, headers=headers)
            assert refused.status_code == 403, (method, path, refused.status_code, refused.text)
            assert "CSRF" in refused.json()["error"]
    assert sent_messages(world) == 0


def test_a_json_body_must_be_sent_as_application_json(world: World) -> None:
    client = world.session.client
    token = {"x-csrf-token": world.session.csrf()}
    body = '{"to": "bob@example.org", "subject": "Hi", "html": "<p>Hi Bob</p>"}'
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {**token, **({"content-type": media} if media else {})}
        for path in ("/api/v1/messages", "/api/v1/webhooks"):
            refused = client.post(path, content=body, headers=headers)
            assert refused.status_code == 415, (path, media, refused.text)
            assert "application/json" in refused.json()["error"]
    bearer = {"Authorization": f"Bearer {world.api_key}", "content-type": "text/plain"}
    assert httpx.post(f"{world.server.url}/api/v1/messages", content=body, headers=bearer, timeout=10).status_code == 415
    assert sent_messages(world) == 0
    charset = {**token, "content-type": "Application/JSON; charset=utf-8"}
    assert client.post("/api/v1/messages", content=body, headers=charset).status_code == 202
    assert sent_messages(world) == 1
    # An API key needs no CSRF token.
    with_key = {"Authorization": f"Bearer {world.api_key}"}
    assert httpx.post(f"{world.server.url}/api/v1/messages", json=MESSAGE, headers=with_key,
                      timeout=10).status_code == 202
    assert sent_messages(world) == 2
