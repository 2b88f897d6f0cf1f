"""GET /api/v1/messages/{id} and the classified events API, against a real server with its relay and pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailbeacon.outbound import read_captured
from tests.relay.test_relay import html_message
from tests.support.servers import Server, running_server
from tests.support.smtp import User, add_user, relay_client

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, User], int]]:
    data = tmp_path_factory.mktemp("reports") / "data"
    users = {
        "bob": add_user(data, "bob@example.com", "--seat", "sales"),
        "eve": add_user(data, "eve@example.com", "--seat", "sales"),
        "ada": add_user(data, "ada@example.com", "--admin"),
    }
    with running_server(data) as server:
        assert server.smtp is not None
        with relay_client(server.smtp, users["bob"]) as client:
            client.sendmail("bob@example.com", ["alice@example.org", "carol@example.net"], html_message("report"))
        copies = _captured(data, 2)
        alice = next(c for c in copies if c.delivered_to == "alice@example.org")
        carol = next(c for c in copies if c.delivered_to == "carol@example.net")
        httpx.get(alice.pixel_urls[0], headers={"User-Agent": THUNDERBIRD, "X-Forwarded-For": "93.184.216.34"})
        httpx.get(alice.click_urls[0], headers={"User-Agent": THUNDERBIRD})  # seconds after delivery: a scanner's
        httpx.head(carol.pixel_urls[0])
        message_id = _message_id(server, users["bob"])
        yield server, users, message_id


def _captured(data: Path, count: int) -> list[Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(copies := read_captured(data / "captured")) >= count:
            return copies
        time.sleep(0.05)
    raise AssertionError("mail did not reach the capture mailbox")


def _message_id(server: Server, user: User) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        events = get(server, user, "/api/v1/events").json()["events"]
        if len(events) == 3 and all(e["class"] for e in events):
            return int(events[0]["message_id"])
        time.sleep(0.1)
    raise AssertionError("the pipeline did not classify the events")


def get(server: Server, user: User | None, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {user.api_key}"} if user else {}
    return httpx.get(server.url + path, headers=headers)


def test_events_carry_their_class_reasons_client_and_first(world: tuple[Server, dict[str, User], int]) -> None:
    server, users, _ = world
    events = get(server, users["bob"], "/api/v1/events").json()["events"]
    assert [(e["type"], e["recipient"], e["class"], e["reasons"], e["first"]) for e in events] == [
        ("open", "alice@example.org", "human", [], True),
        ("click", "alice@example.org", "machine", ["scanner_timing"], True),
        ("open", "carol@example.net", "machine", ["head_request", "http_library"], True),  # httpx says who it is
    ]
    assert events[0]["client"] == "Thunderbird (Windows)" and events[0]["ip"] == "93.184.216.34"


def test_message_detail_shows_raw_and_human_counts(world: tuple[Server, dict[str, User], int]) -> None:
    server, users, message_id = world
    detail = get(server, users["bob"], f"/api/v1/messages/{message_id}").json()
    assert detail["opens"] == {"raw": 2, "human": 1, "machine": 1, "unique": 2, "unique_human": 1, "inferred": 0}
    assert detail["clicks"] == {"raw": 1, "human": 0, "machine": 1, "unique": 1, "unique_human": 0}
    alice, carol = detail["recipients"]
    assert (alice["recipient"], alice["opens"], alice["status"]) == (
        "alice@example.org", {"raw": 1, "human": 1, "machine": 0}, "sent",
    )
    assert carol["opens"] == {"raw": 1, "human": 0, "machine": 1} and carol["first_human_open_at"] is None
    assert [(link["url"], link["clicks"]) for link in detail["links"]] == [
        ("https://example.com/pricing?plan=pro", {"raw": 1, "human": 0})
    ]


def test_only_the_sender_and_admins_see_a_message(world: tuple[Server, dict[str, User], int]) -> None:
    server, users, message_id = world
    assert get(server, users["ada"], f"/api/v1/messages/{message_id}").status_code == 200
    assert get(server, users["eve"], f"/api/v1/messages/{message_id}").status_code == 404
    assert get(server, users["eve"], "/api/v1/events").json()["events"] == []
    assert get(server, users["bob"], f"/api/v1/messages/{message_id + 1000}").status_code == 404
    assert get(server, users["bob"], "/api/v1/messages/abc").status_code == 404
    assert get(server, None, f"/api/v1/messages/{message_id}").status_code == 401
