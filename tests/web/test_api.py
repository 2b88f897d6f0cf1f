"""The events API and the users behind it: `mailbeacon user add`, then GET /api/v1/events with a Bearer key.

Users are made with the CLI, as an operator would, before and while a real
`mailbeacon serve` runs on the same data directory; opens and clicks go over HTTP.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.accounts import verify_password
from mailbeacon.cli import main
from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from tests.support.servers import Server, running_server

RECIPIENT = "bob@example.org"
TARGET = "https://example.com/offer?id=7&x=%2F"


def add_user(data_dir: Path, email: str, *flags: str) -> dict[str, str]:
    result = CliRunner().invoke(main, ["user", "add", email, *flags, "--json", "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    created: dict[str, str] = json.loads(result.stdout)
    return created


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'mailbeacon.db'}"


@dataclass(frozen=True)
class World:
    server: Server
    admin_key: str
    a_key: str
    b_key: str
    message_id: int
    delivery: bytes
    """User A's message to RECIPIENT."""
    unknown: bytes
    """A delivery no message in the store has."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("api") / "data"
    admin = add_user(data_dir, "admin@example.com", "--admin")
    a = add_user(data_dir, "a@example.com", "--seat", "sales")
    with running_server(data_dir) as server:
        b = add_user(data_dir, "b@example.com")  # while the server runs: no restart needed
        delivery, unknown = secrets.token_bytes(12), secrets.token_bytes(16)
        with open_store(sqlite_url(data_dir)) as store:
            a_user = store.user_by_email("a@example.com")
            assert a_user is not None
            message_id = store.record_message(
                user_id=a_user.id,
                sender="a@example.com",
                subject="Our offer",
                message_id_header="<offer-1@example.com>",
                deliveries=[(delivery, RECIPIENT)],
                links=[(0, TARGET)],
            )
        keyring = Keyring.load_or_create(data_dir)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            hits = [
                (f"/o/{keyring.sign_open(delivery)}.gif", "a-open-1", 200),
                (f"/c/{keyring.sign_click(delivery, 0, TARGET)}", "a-click", 302),
                (f"/o/{keyring.sign_open(unknown)}.gif", "unknown-open", 200),
                (f"/o/{keyring.sign_open(delivery)}.gif", "a-open-2", 200),
                (f"/c/{keyring.sign_click(unknown, 2, 'https://example.net/')}", "unknown-click", 302),
            ]
            for path, agent, status in hits:
                assert client.get(path, headers={"User-Agent": agent}).status_code == status
        world = World(server, admin["api_key"], a["api_key"], b["api_key"], message_id, delivery, unknown)
        settled(world)
        yield world


def settled(world: World, timeout: float = 20.0) -> None:
    """Wait until the pipeline has judged every event, so pages read at different times agree."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = get_events(world, world.admin_key, after=0, limit=1000).json()["events"]
        if events and all(e["class"] is not None for e in events):
            return
        time.sleep(0.05)
    raise AssertionError("the pipeline did not judge every event")


def get_events(world: World, key: str | None, **params: Any) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{world.server.url}/api/v1/events", params=params, headers=headers, timeout=10)


def all_pages(world: World, key: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Follow `next` from after=0 to the end; returns the events and the number of pages."""
    seen: list[dict[str, Any]] = []
    after: int | None = 0
    pages = 0
    while after is not None:
        pages += 1
        assert pages <= 100, "pagination does not end"
        response = get_events(world, key, after=after, limit=limit)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["events"]) <= limit
        seen += body["events"]
        after = body["next"]
    return seen, pages


# --- authentication -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer mb_not-a-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "mb_not-a-key"},
    ],
    ids=["missing", "wrong key", "empty key", "basic auth", "no scheme"],
)
def test_without_a_valid_key_the_api_answers_401_json(world: World, headers: dict[str, str]) -> None:
    response = httpx.get(f"{world.server.url}/api/v1/events?after=0&limit=10", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert "events" not in response.json()


def test_the_admin_key_without_its_scheme_is_refused(world: World) -> None:
    response = httpx.get(f"{world.server.url}/api/v1/events", headers={"Authorization": world.admin_key}, timeout=10)
    assert response.status_code == 401 and "error" in response.json()


def test_the_bearer_scheme_is_case_insensitive(world: World) -> None:
    response = httpx.get(
        f"{world.server.url}/api/v1/events", headers={"Authorization": f"bearer {world.admin_key}"}, timeout=10
    )
    assert response.status_code == 200 and len(response.json()["events"]) == 5


# --- who sees what --------------------------------------------------------------------------------------


def test_admin_sees_every_event_in_order(world: World) -> None:
    response = get_events(world, world.admin_key, after=0, limit=1000)
    assert response.status_code == 200
    body = response.json()
    events = body["events"]
    assert [e["user_agent"] for e in events] == ["a-open-1", "a-click", "unknown-open", "a-open-2", "unknown-click"]
    assert [e["type"] for e in events] == ["open", "click", "open", "open", "click"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert body["next"] is None, "a page shorter than the limit is the last"
    unknown = [e for e in events if e["user_agent"].startswith("unknown")]
    assert [(e["message_id"], e["recipient"]) for e in unknown] == [(None, None), (None, None)]
    assert unknown[1]["link"] == 2 and unknown[1]["url"] == "https://example.net/"


def test_a_user_sees_only_the_events_of_their_messages_with_message_and_recipient(world: World) -> None:
    response = get_events(world, world.a_key, after=0, limit=1000)
    assert response.status_code == 200
    events = response.json()["events"]
    assert [e["user_agent"] for e in events] == ["a-open-1", "a-click", "a-open-2"]
    for event in events:
        assert event["message_id"] == world.message_id
        assert event["recipient"] == RECIPIENT
        assert event["ip"] == "127.0.0.1" and event["method"] == "GET"
        assert isinstance(event["occurred_at"], float)
    opens = [e for e in events if e["type"] == "open"]
    assert [(e["link"], e["url"]) for e in opens] == [(None, None), (None, None)]
    (click,) = [e for e in events if e["type"] == "click"]
    assert (click["link"], click["url"]) == (0, TARGET)


def test_another_user_sees_none(world: World) -> None:
    response = get_events(world, world.b_key, after=0, limit=1000)
    assert response.status_code == 200
    assert response.json() == {"events": [], "next": None}


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 1000])
def test_pagination_returns_every_event_exactly_once_in_id_order(world: World, limit: int) -> None:
    everything = get_events(world, world.admin_key, after=0, limit=1000).json()["events"]
    paged, pages = all_pages(world, world.admin_key, limit)
    assert paged == everything
    assert pages >= -(-len(everything) // limit)


@pytest.mark.parametrize("limit", [1, 2])
def test_a_users_pages_hold_only_their_events(world: World, limit: int) -> None:
    paged, _ = all_pages(world, world.a_key, limit)
    assert [e["user_agent"] for e in paged] == ["a-open-1", "a-click", "a-open-2"]


def test_after_skips_what_was_seen(world: World) -> None:
    everything = get_events(world, world.admin_key, after=0, limit=1000).json()["events"]
    third = everything[2]["id"]
    rest = get_events(world, world.admin_key, after=third, limit=1000).json()
    assert rest == {"events": everything[3:], "next": None}
    assert get_events(world, world.admin_key, after=everything[-1]["id"], limit=10).json() == {
        "events": [],
        "next": None,
    }


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "1001"},
        {"limit": "abc"},
        {"limit": ""},
        {"limit": "2.5"},
        {"after": "-1"},
        {"after": "x"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_bad_paging_parameters_answer_400_json(world: World, params: dict[str, str]) -> None:
    response = get_events(world, world.admin_key, **params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["error"], str) and response.json()["error"]


def test_a_cursor_beyond_64_bits_is_refused_not_a_server_error(world: World) -> None:
    # No event id reaches 2**63; SQLite cannot even bind the number.
    response = get_events(world, world.admin_key, after=2**63, limit=10)
    assert response.headers["content-type"].startswith("application/json"), (response.status_code, response.text)
    body = response.json()
    assert (response.status_code, bool(body.get("error"))) == (400, True) or (response.status_code, body) == (
        200,
        {"events": [], "next": None},
    )


# --- users from the CLI ---------------------------------------------------------------------------------


def test_user_add_prints_the_api_key_and_smtp_password_once_and_stores_only_hashes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(main, ["user", "add", "ada@example.com", "--seat", "sales", "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (key_line,) = [line for line in lines if line.startswith("API key:")]
    (password_line,) = [line for line in lines if line.startswith("SMTP password:")]
    api_key = key_line.split(":", 1)[1].strip()
    password = password_line.split(":", 1)[1].strip()
    assert len(api_key) >= 32 and len(password) >= 16
    assert result.stdout.count(api_key) == 1 and result.stdout.count(password) == 1
    assert api_key not in result.stderr and password not in result.stderr

    as_json = add_user(data_dir, "grace@example.com", "--admin")
    assert set(as_json) >= {"email", "api_key", "smtp_password"} and as_json["email"] == "grace@example.com"
    assert as_json["api_key"] != api_key and as_json["smtp_password"] != password
    secrets_shown = [api_key, password, as_json["api_key"], as_json["smtp_password"]]

    with sqlite3.connect(data_dir / "mailbeacon.db") as db:
        rows = db.execute("SELECT * FROM users").fetchall()
    db.close()
    assert len(rows) == 2
    for row in rows:
        for column in row:
            text = column.decode("latin-1") if isinstance(column, bytes) else str(column)
            for shown in secrets_shown:
                assert shown not in text, "a key or password is stored in clear in the users table"
    for path in data_dir.rglob("*"):  # nor anywhere else: the database, its WAL, the spool, the keys
        if path.is_file():
            content = path.read_bytes()
            assert not any(shown.encode() in content for shown in secrets_shown), path.name

    with open_store(sqlite_url(data_dir)) as store:
        ada = store.user_by_email("ada@example.com")
        grace = store.user_by_email("grace@example.com")
    assert ada is not None and grace is not None
    assert (ada.seat, ada.is_admin, grace.is_admin) == ("sales", False, True)
    assert verify_password(password, ada.smtp_password_hash), "the printed password is the one that works"
    assert not verify_password(as_json["smtp_password"], ada.smtp_password_hash)


def test_the_printed_key_opens_the_api(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = add_user(data_dir, "ada@example.com")
    with running_server(data_dir) as server:
        response = httpx.get(
            f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {created['api_key']}"}, timeout=10
        )
        assert response.status_code == 200 and response.json() == {"events": [], "next": None}
        wrong = httpx.get(
            f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {created['smtp_password']}"}, timeout=10
        )
        assert wrong.status_code == 401


def test_a_duplicate_email_is_a_clear_error_and_keeps_the_first_user(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = add_user(data_dir, "ada@example.com")
    result = CliRunner().invoke(main, ["user", "add", "ada@example.com", "--admin", "--json", "--data", str(data_dir)])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), "no traceback"
    assert "ada@example.com" in result.stderr and "exists already" in result.stderr
    assert result.stdout == "", "no credentials are printed for a user that was not created"
    with open_store(sqlite_url(data_dir)) as store:
        kept = store.user_by_email("ada@example.com")
        assert kept is not None and kept.is_admin is False
        assert store.user_by_api_key_hash(kept.api_key_hash) == kept
    assert verify_password(first["smtp_password"], kept.smtp_password_hash)
