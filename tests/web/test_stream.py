"""GET /api/v1/stream against a real `mailbeacon serve`: each user's live activity, resumable, and a clean stop.

Users are made with the CLI; pixels and clicks go over HTTP to the same server;
the stream is read with httpx as an EventSource would read it. Every wait is
bounded by the client's read timeout and a deadline.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from tests.support.servers import Server, running_server, start_server
from tests.web.test_api import add_user, sqlite_url

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
HOSTILE = "<script>alert(1)</script> \"><img src=x onerror=alert(1)> ' onmouseover='alert(1)"
READ = httpx.Timeout(10.0, read=8.0)
"""A stream line must come within 8 s (items arrive within a second; heartbeats every 15 s are not awaited)."""


@dataclass(frozen=True)
class Sse:
    event: str
    data: Any
    id: str | None


@dataclass
class World:
    server: Server
    keyring: Keyring
    admin_key: str
    a_key: str
    b_key: str
    a_delivery: bytes
    b_delivery: bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("stream") / "data"
    admin = add_user(data_dir, "admin@example.com", "--admin")
    a = add_user(data_dir, "a@example.com")
    b = add_user(data_dir, "b@example.com")
    a_delivery, b_delivery = secrets.token_bytes(12), secrets.token_bytes(12)
    with open_store(sqlite_url(data_dir)) as store:
        for email, delivery, subject in [("a@example.com", a_delivery, "Our offer"), ("b@example.com", b_delivery, "B")]:
            user = store.user_by_email(email)
            assert user is not None
            store.record_message(user.id, email, subject, None, [(delivery, "bob@example.org")],
                                 [(0, "https://example.com/pricing")])
    with running_server(data_dir) as server:
        yield World(server, Keyring.load_or_create(data_dir), admin["api_key"], a["api_key"], b["api_key"],
                    a_delivery, b_delivery)


def open_pixel(world: World, delivery: bytes, user_agent: str = THUNDERBIRD) -> None:
    path = f"/o/{world.keyring.sign_open(delivery)}.gif"
    assert httpx.get(world.server.url + path, headers={"User-Agent": user_agent}, timeout=10).status_code == 200


def stream(world: World, key: str | None, **headers: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=world.server.url, headers={**auth, **headers}, timeout=READ)


def events(response: httpx.Response, until: Any, deadline: float = 20.0) -> list[Sse]:
    """Parse server-sent events until `until(list_so_far)` is true, the stream ends or `deadline` seconds pass."""
    seen: list[Sse] = []
    fields: dict[str, str] = {}
    end = time.monotonic() + deadline
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                seen.append(Sse(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")))
                if until(seen):
                    return seen
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if time.monotonic() > end:
            break
    return seen


def activity_of(seen: list[Sse], user_agent: str) -> list[Sse]:
    return [e for e in seen if e.event == "activity" and e.data["user_agent"] == user_agent]


def test_a_user_sees_their_own_activity_live_with_a_notification_for_the_first_human_open(world: World) -> None:
    agent = f"{THUNDERBIRD} first-{secrets.token_hex(3)}"
    with stream(world, world.a_key) as client, client.stream("GET", "/api/v1/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        open_pixel(world, world.b_delivery, agent)  # B's message: never in A's stream
        open_pixel(world, world.a_delivery, agent)
        seen = events(response, lambda s: activity_of(s, agent))
    mine = activity_of(seen, agent)
    assert [e.data["message_id"] is not None and e.data["subject"] for e in mine] == ["Our offer"]
    (item,) = mine
    assert item.id == str(item.data["id"])
    assert item.data["recipient"] == "bob@example.org" and item.data["class"] == "human"
    assert item.data["notify"] == {"title": "bob@example.org opened “Our offer”", "body": "first open"}
    assert not [e for e in seen if e.event == "activity" and e.data["subject"] == "B"]


def test_the_admin_sees_everyones_activity_but_is_not_notified_of_others(world: World) -> None:
    agent = f"{THUNDERBIRD} admin-{secrets.token_hex(3)}"
    with stream(world, world.admin_key) as client, client.stream("GET", "/api/v1/stream") as response:
        open_pixel(world, world.b_delivery, agent)
        seen = events(response, lambda s: activity_of(s, agent))
    (item,) = activity_of(seen, agent)
    assert item.data["subject"] == "B" and item.data["notify"] is None


def judged(world: World, user_agent: str, deadline: float = 20.0) -> None:
    """Wait until the pipeline has judged the event with this User-Agent."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        response = httpx.get(f"{world.server.url}/api/v1/events", params={"limit": 1000},
                             headers={"Authorization": f"Bearer {world.admin_key}"}, timeout=10)
        if [e for e in response.json()["events"] if e["user_agent"] == user_agent and e["class"]]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the pipeline did not judge {user_agent!r}")


def first_frame(response: httpx.Response) -> list[str]:
    lines = []
    for line in response.iter_lines():
        if not line:
            return lines
        lines.append(line)
    return lines


def test_a_reconnect_with_last_event_id_gets_what_it_missed_and_after_works_alike(world: World) -> None:
    with stream(world, world.b_key) as client, client.stream("GET", "/api/v1/stream") as response:
        start = [line for line in first_frame(response) if line.startswith("id: ")]
    assert start, "a fresh stream names where it starts, so a reconnect misses nothing"
    resume_from = start[0].removeprefix("id: ")
    agent = f"{THUNDERBIRD} missed-{secrets.token_hex(3)}"
    open_pixel(world, world.b_delivery, agent)  # while B is away
    judged(world, agent)  # so it comes back from the store, not from the live poller
    for kwargs in ({"headers": {"Last-Event-ID": resume_from}}, {"params": {"after": resume_from}}):
        with stream(world, world.b_key) as client, client.stream("GET", "/api/v1/stream", **kwargs) as response:
            seen = events(response, lambda s: activity_of(s, agent))
        (item,) = activity_of(seen, agent)
        assert int(item.id or 0) > int(resume_from) and item.data["subject"] == "B"


@pytest.mark.parametrize(
    ("key", "headers", "status"),
    [
        (None, {}, 401),
        ("mb_not-a-key", {}, 401),
        ("A", {"Last-Event-ID": "yesterday"}, 400),
        ("A", {"Last-Event-ID": "-1"}, 400),
    ],
    ids=["no key", "wrong key", "garbage Last-Event-ID", "negative Last-Event-ID"],
)
def test_refusals_are_json(world: World, key: str | None, headers: dict[str, str], status: int) -> None:
    real = world.a_key if key == "A" else key
    with stream(world, real, **headers) as client:
        response = client.get("/api/v1/stream")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json") and response.json()["error"]


def test_a_hostile_user_agent_arrives_as_json_data_unchanged(world: World) -> None:
    agent = f"{HOSTILE} {secrets.token_hex(3)}"
    with stream(world, world.a_key) as client, client.stream("GET", "/api/v1/stream") as response:
        open_pixel(world, world.a_delivery, agent)
        seen = events(response, lambda s: activity_of(s, agent))
    (item,) = activity_of(seen, agent)
    assert item.data["user_agent"] == agent


def test_the_server_stops_promptly_with_a_stream_open_and_tells_it_to_reconnect(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = add_user(data_dir, "a@example.com")["api_key"]
    server = start_server(data_dir)
    try:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=READ)
        with client, client.stream("GET", "/api/v1/stream") as response:
            lines = response.iter_lines()
            assert next(lines).startswith("retry: ")
            os.killpg(server.process.pid, signal.SIGTERM)
            rest = list(lines)  # ends when the server closes the stream
            try:
                server.process.wait(timeout=10)  # uvicorn ends by re-raising the SIGTERM it handled
            except subprocess.TimeoutExpired:
                pytest.fail(f"mailbeacon serve still runs 10 s after SIGTERM with a stream open:\n{server.output()}")
        assert "event: reconnect" in rest
    finally:
        server.kill()


def live_streams(world: World) -> int:
    metrics = httpx.get(f"{world.server.url}/metrics", headers={"Authorization": f"Bearer {world.admin_key}"},
                        timeout=10).text
    (value,) = [line.split()[1] for line in metrics.splitlines() if line.startswith("mailbeacon_live_streams ")]
    return int(value)


def until_live_streams(world: World, expected: int, deadline: float = 10.0) -> int:
    end = time.monotonic() + deadline
    while (seen := live_streams(world)) != expected and time.monotonic() < end:
        time.sleep(0.05)
    return seen


def test_a_client_that_goes_away_is_let_go(world: World) -> None:
    before = live_streams(world)
    with stream(world, world.a_key) as one, stream(world, world.b_key) as two:
        with one.stream("GET", "/api/v1/stream") as first, two.stream("GET", "/api/v1/stream") as second:
            assert first.status_code == second.status_code == 200
            assert until_live_streams(world, before + 2) == before + 2
    assert until_live_streams(world, before) == before, "a closed stream is still held by the server"
