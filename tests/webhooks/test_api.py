"""Webhooks end to end: endpoints made over the API of a real `mailbeacon serve`, pixels and clicks over HTTP,
signed deliveries checked by a real receiver with its own implementation of the signature.

Each test has its own user (made with the CLI while the server runs), so its events
reach only its own endpoints.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from tests.support.dashboard import PASSWORD, Session, cli
from tests.support.servers import Server, running_server, start_server
from tests.webhooks.receiver import Receiver, Received, running_receiver

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
TARGET = "https://example.com/pricing?plan=pro&x=%2F"
RETRY = ("--webhook-retry-after", "0.2", "--webhook-allow-network", "127.0.0.0/8")  # the receiver is local
_people = itertools.count(1)


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class Site:
    server: Server
    receiver: Receiver
    data_dir: Path

    def person(self, admin: bool = False) -> Person:
        email = f"user{next(_people)}-{secrets.token_hex(3)}@example.com"
        flags = ["--admin"] if admin else []
        result = CliRunner().invoke(main, ["user", "add", email, *flags, "--json", "--data", str(self.data_dir)])
        assert result.exit_code == 0, result.output
        made = json.loads(result.stdout)
        with open_store(store_url(self.data_dir)) as store:
            user = store.user_by_email(email)
            assert user is not None
        return Person(user.id, email, made["api_key"])

    def sent(self, person: Person, recipient: str = "bob@example.org") -> bytes:
        """A message of `person` to `recipient` with one link; returns the delivery's key."""
        key = secrets.token_bytes(12)
        with open_store(store_url(self.data_dir)) as store:
            store.record_message(person.id, person.email, "Proposal", None, [(key, recipient)], [(0, TARGET)])
        return key

    def open(self, delivery: bytes, ua: str = THUNDERBIRD, method: str = "GET") -> None:
        token = Keyring.load_or_create(self.data_dir).sign_open(delivery)
        answer = httpx.request(method, f"{self.server.url}/o/{token}.gif", headers={"User-Agent": ua}, timeout=10)
        assert answer.status_code == 200

    def click(self, delivery: bytes) -> None:
        token = Keyring.load_or_create(self.data_dir).sign_click(delivery, 0, TARGET)
        answer = httpx.get(f"{self.server.url}/c/{token}", headers={"User-Agent": THUNDERBIRD}, timeout=10)
        assert answer.status_code == 302

    def call(self, method: str, path: str, person: Person | None, **kwargs: Any) -> httpx.Response:
        headers = {**(person.auth if person else {}), **kwargs.pop("headers", {})}
        return httpx.request(method, self.server.url + path, headers=headers, timeout=10, **kwargs)

    def endpoint(self, person: Person, name: str, **body: Any) -> tuple[dict[str, Any], str]:
        """A new endpoint at the receiver's /name; returns its JSON and the path deliveries arrive at."""
        made = self.call("POST", "/api/v1/webhooks", person, json={"url": self.receiver.url(name), **body})
        assert made.status_code == 201, made.text
        endpoint = made.json()
        return endpoint, self.receiver.expect(endpoint)

    def deliveries(self, person: Person, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", person)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["deliveries"]
        return found

    def fanned_out(self, timeout: float = 20.0) -> None:
        """Wait until the fan-out has read every event recorded so far (so what is not queued never will be)."""
        deadline = time.monotonic() + timeout
        with open_store(store_url(self.data_dir)) as store:
            while time.monotonic() < deadline:
                end = store.last_event_id()
                if end and store.reader_position("webhooks") >= end:
                    return
                time.sleep(0.05)
        raise AssertionError("the fan-out did not reach the end of the log")


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'mailbeacon.db'}"


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not {what} after {timeout}s")


def arrived(n: int) -> Callable[[list[Received]], bool]:
    return lambda seen: len(seen) >= n


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("webhooks") / "data"
    with running_receiver() as receiver, running_server(data_dir, *RETRY) as server:
        yield Site(server, receiver, data_dir)


def test_an_open_arrives_at_the_endpoint_signed_to_the_standard(site: Site) -> None:
    alice = site.person()
    endpoint, path = site.endpoint(alice, "first-open")
    assert endpoint["secret"].startswith("whsec_") and len(base64.b64decode(endpoint["secret"][6:])) >= 24
    assert (endpoint["enabled"], endpoint["event_filter"], endpoint["all_users"]) == (True, [], False)
    listed = site.call("GET", "/api/v1/webhooks", alice).json()
    assert [h["id"] for h in listed["webhooks"]] == [endpoint["id"]] and "secret" not in listed["webhooks"][0]
    assert "open.human" in listed["event_kinds"]
    assert site.call("GET", f"/api/v1/webhooks/{endpoint['id']}", alice).json()["secret"] == endpoint["secret"]

    site.open(site.sent(alice))
    (got,) = site.receiver.wait_for(arrived(1), what="the open", path=path)
    assert got.verified, got.headers
    assert got.id.startswith("msg_") and got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 300
    body = got.json()
    assert body["type"] == "email.opened" and body["timestamp"].endswith("Z")
    data = body["data"]
    assert (data["type"], data["recipient"], data["subject"], data["user_agent"]) == (
        "open", "bob@example.org", "Proposal", THUNDERBIRD)
    assert data["occurred_at"].endswith("+00:00") and data["class"] is not None and isinstance(data["id"], int)
    assert set(data) >= {"message_id", "url", "link", "ip", "reasons", "client", "first", "notice"}

    wait_until(lambda: site.deliveries(alice, endpoint)[0]["status"] == "delivered", "delivered")
    (logged,) = site.deliveries(alice, endpoint)
    assert (logged["webhook_id"], logged["event_id"], logged["type"]) == (got.id, data["id"], "email.opened")
    # issue #12: the status line, never the body ("answered 200")
    assert [(a["status_code"], a["response"]) for a in logged["attempts"]] == [(200, "200 OK")]
    assert logged["payload"] == body


def test_a_failing_receiver_gets_the_event_again_until_it_answers_2xx(site: Site) -> None:
    alice = site.person()
    endpoint, path = site.endpoint(alice, "flaky")
    site.receiver.answers[path] = [500, 503]
    site.open(site.sent(alice))
    # The waits scale with --webhook-retry-after 0.2: 0.2 s, then 12 s ±20 %, so the third comes within 15 s.
    seen = site.receiver.wait_for(arrived(3), timeout=40, what="three attempts", path=path)
    assert [r.answered for r in seen] == [500, 503, 200]
    assert len({r.id for r in seen}) == 1 and len({r.body for r in seen}) == 1 and all(r.verified for r in seen)
    wait_until(lambda: site.deliveries(alice, endpoint)[0]["status"] == "delivered", "delivered")
    (logged,) = site.deliveries(alice, endpoint)
    assert [a["status_code"] for a in logged["attempts"]] == [200, 503, 500]
    assert [a["error"] for a in logged["attempts"]] == [None, "HTTP 503", "HTTP 500"]


def test_410_gone_turns_the_endpoint_off_until_its_owner_turns_it_on(site: Site) -> None:
    alice = site.person()
    endpoint, path = site.endpoint(alice, "gone")
    site.receiver.answers[path] = [410]
    delivery = site.sent(alice)
    site.open(delivery)
    (gone,) = site.receiver.wait_for(arrived(1), what="the first attempt", path=path)
    one = f"/api/v1/webhooks/{endpoint['id']}"
    wait_until(lambda: site.call("GET", one, alice).json()["enabled"] is False, "disabled")
    assert "410" in site.call("GET", one, alice).json()["disabled_reason"]
    assert site.deliveries(alice, endpoint)[0]["status"] == "disabled"

    site.open(delivery)  # while off: not even queued
    site.fanned_out()
    assert len(site.deliveries(alice, endpoint)) == 1
    assert site.call("POST", f"{one}/test", alice).status_code == 409

    turned_on = site.call("PATCH", one, alice, json={"enabled": True})
    assert turned_on.status_code == 200 and turned_on.json()["enabled"] is True
    assert turned_on.json()["disabled_reason"] is None
    first = site.deliveries(alice, endpoint)[0]
    again = site.call("POST", f"{one}/deliveries/{first['id']}/redeliver", alice)
    assert again.status_code == 202, again.text
    resent = site.receiver.wait_for(arrived(2), what="the redelivery", path=path)[1]
    assert (resent.id, resent.body, resent.answered) == (gone.id, gone.body, 200)


def test_redelivery_sends_the_same_id_and_body_again(site: Site) -> None:
    alice = site.person()
    endpoint, path = site.endpoint(alice, "again")
    site.click(site.sent(alice))
    (first,) = site.receiver.wait_for(arrived(1), path=path)
    assert first.json()["type"] == "email.clicked" and first.json()["data"]["url"] == TARGET
    wait_until(lambda: site.deliveries(alice, endpoint)[0]["status"] == "delivered", "delivered")
    delivery = site.deliveries(alice, endpoint)[0]
    queued = site.call("POST", f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", alice)
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    second = site.receiver.wait_for(arrived(2), path=path)[1]
    assert (second.id, second.body) == (first.id, first.body) and second.verified
    wait_until(lambda: len(site.deliveries(alice, endpoint)[0]["attempts"]) == 2, "two attempts logged")


def test_filters_choose_what_each_endpoint_gets(site: Site) -> None:
    alice = site.person()
    made = {name: site.endpoint(alice, name, event_filter=kinds) for name, kinds in (
        ("opens", ["open"]), ("clicks", ["click"]), ("machine-opens", ["open.machine"]),
        ("both", ["click", "open.machine"]))}
    opens, clicks, machine_opens, both = (path for _, path in made.values())
    delivery = site.sent(alice)
    site.open(delivery, method="HEAD")  # a HEAD request is a machine's, always
    site.open(delivery)
    site.click(delivery)
    site.fanned_out()
    got = {path: site.receiver.wait_for(arrived(n), path=path) for path, n in
           ((opens, 2), (clicks, 1), (machine_opens, 1), (both, 2))}
    assert [r.json()["type"] for r in got[opens]] == ["email.opened"] * 2
    assert [r.json()["data"]["type"] for r in got[clicks]] == ["click"]
    assert [r.json()["data"]["class"] for r in got[machine_opens]] == ["machine"]
    assert sorted(r.json()["type"] for r in got[both]) == ["email.clicked", "email.opened"]
    assert all(r.verified for seen in got.values() for r in seen)
    # The fan-out has passed every event: what each endpoint's outbox holds is all it will ever get.
    queued = {name: len(site.deliveries(alice, endpoint)) for name, (endpoint, _) in made.items()}
    assert queued == {"opens": 2, "clicks": 1, "machine-opens": 1, "both": 2}


HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'\\\"></a><svg/onload=alert(1)>"]


@pytest.mark.parametrize("agent", HOSTILE, ids=["script", "quote-breaking", "backslash-quote"])
def test_a_hostile_user_agent_is_kept_as_data(site: Site, agent: str) -> None:
    alice = site.person()
    _, path = site.endpoint(alice, f"hostile-{secrets.token_hex(3)}")
    site.open(site.sent(alice, recipient='"><b>bob</b>@example.org'), ua=agent)
    (got,) = site.receiver.wait_for(arrived(1), path=path)
    assert got.verified
    data = got.json()["data"]
    assert data["user_agent"] == agent and data["recipient"] == '"><b>bob</b>@example.org'
    assert json.dumps(agent)[1:-1].encode() in got.body  # quotes and backslashes arrive escaped, not breaking out


def test_another_users_key_gets_404_on_every_webhook_route(site: Site) -> None:
    alice, mallory, admin = site.person(), site.person(), site.person(admin=True)
    endpoint, path = site.endpoint(alice, "private")
    sent = site.call("POST", f"/api/v1/webhooks/{endpoint['id']}/test", alice)
    assert sent.status_code == 202
    delivery_id = sent.json()["id"]
    site.receiver.wait_for(arrived(1), path=path)
    own, _ = site.endpoint(mallory, "mallory")
    one = f"/api/v1/webhooks/{endpoint['id']}"
    tries = [
        ("GET", one, {}), ("PATCH", one, {"json": {"url": "http://127.0.0.1:9/x"}}), ("DELETE", one, {}),
        ("GET", f"{one}/deliveries", {}), ("POST", f"{one}/deliveries/{delivery_id}/redeliver", {}),
        ("POST", f"{one}/test", {}),
        ("POST", f"/api/v1/webhooks/{own['id']}/deliveries/{delivery_id}/redeliver", {}),
        ("GET", "/api/v1/webhooks/999999999", {}), ("GET", "/api/v1/webhooks/not-a-number", {}),
    ]
    for someone in (mallory, admin):
        for method, url, extra in tries:
            answer = site.call(method, url, someone, **extra)
            assert (method, url, answer.status_code, answer.json()) == (method, url, 404, {"error": "not found"})
    listed = site.call("GET", "/api/v1/webhooks", mallory).json()["webhooks"]
    assert [h["id"] for h in listed] == [own["id"]]
    assert site.call("GET", one, None).status_code == 401
    # Nothing changed for Alice, and nothing more was sent.
    mine = site.call("GET", one, alice).json()
    assert (mine["url"], mine["enabled"]) == (endpoint["url"], True)
    assert len(site.deliveries(alice, endpoint)) == 1
    assert site.call("DELETE", one, alice).status_code == 204
    assert site.call("GET", one, alice).status_code == 404


def test_a_test_event_arrives_signed(site: Site) -> None:
    alice = site.person()
    endpoint, path = site.endpoint(alice, "test-event")
    queued = site.call("POST", f"/api/v1/webhooks/{endpoint['id']}/test", alice)
    assert queued.status_code == 202 and queued.json()["type"] == "webhook.test"
    (got,) = site.receiver.wait_for(arrived(1), path=path)
    assert got.verified and got.json()["type"] == "webhook.test" and got.id == queued.json()["webhook_id"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"url": "ftp://example.com/hook"}, "http:// or https://"),
        ({"url": "javascript:alert(1)"}, "http:// or https://"),
        ({"url": "http:///no-host"}, "host"),
        ({}, "url"),
        ({"url": "https://example.com/h", "event_filter": "open"}, "list"),
        ({"url": "https://example.com/h", "event_filter": ["opened"]}, "unknown event kinds"),
        ({"url": "https://example.com/h", "all_users": True}, "admin"),
        ({"url": "https://example.com/h", "colour": "red"}, "unknown fields"),
    ],
    ids=["ftp", "javascript", "no-host", "no-url", "filter-not-list", "unknown-kind", "not-admin", "unknown-field"],
)
def test_bad_endpoint_settings_get_a_clear_400(site: Site, body: dict[str, Any], says: str) -> None:
    alice = site.person()
    answer = site.call("POST", "/api/v1/webhooks", alice, json=body)
    assert answer.status_code == 400 and says in answer.json()["error"], answer.text
    assert site.call("GET", "/api/v1/webhooks", alice).json()["webhooks"] == []


def test_patch_checks_what_it_changes_and_an_admin_may_take_everyones_events(site: Site) -> None:
    admin = site.person(admin=True)
    endpoint, _ = site.endpoint(admin, "admin-all", all_users=True)
    assert endpoint["all_users"] is True
    one = f"/api/v1/webhooks/{endpoint['id']}"
    for body in ({"enabled": "yes"}, {"url": "gopher://x"}, {"secret": "whsec_x"}, {"event_filter": None}):
        assert site.call("PATCH", one, admin, json=body).status_code == 400, body
    as_json, as_text = {"content-type": "application/json"}, {"content-type": "text/plain"}
    assert site.call("PATCH", one, admin, content=b"{not json", headers=as_json).status_code == 400
    assert site.call("PATCH", one, admin, content=b"{}", headers=as_text).status_code == 415  # issue #12
    changed = site.call("PATCH", one, admin, json={"event_filter": ["click", "click"], "url": "https://example.com/"})
    assert changed.status_code == 200
    assert (changed.json()["event_filter"], changed.json()["url"]) == (["click"], "https://example.com/")


def session_cookie(site: Site, person: Person) -> tuple[str, str]:
    """The session cookie and CSRF token a dashboard login leaves in the browser (server-side sessions)."""
    cli("user", "password", person.email, "--password-stdin", "--data", str(site.data_dir), input=PASSWORD + "\n")
    with Session(site.server.url) as browser:
        assert browser.login(person.email).status_code == 303
        cookie = browser.client.cookies.get("mb_session")
        assert cookie is not None
        return cookie, browser.csrf()


def test_calls_riding_on_the_session_cookie_need_the_csrf_token(site: Site) -> None:
    alice = site.person()
    cookie, csrf = session_cookie(site, alice)
    cookies = {"mb_session": cookie}
    body = {"url": site.receiver.url("csrf")}
    assert site.call("GET", "/api/v1/webhooks", None, cookies=cookies).status_code == 200
    refused = site.call("POST", "/api/v1/webhooks", None, cookies=cookies, json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    wrong = site.call("POST", "/api/v1/webhooks", None, cookies=cookies, json=body, headers={"x-csrf-token": "x"})
    assert wrong.status_code == 403
    made = site.call("POST", "/api/v1/webhooks", None, cookies=cookies, json=body, headers={"x-csrf-token": csrf})
    assert made.status_code == 201, made.text
    one = f"/api/v1/webhooks/{made.json()['id']}"
    assert site.call("DELETE", one, None, cookies=cookies).status_code == 403
    assert site.call("POST", f"{one}/test", None, cookies=cookies).status_code == 403
    assert site.call("DELETE", one, None, cookies=cookies, headers={"x-csrf-token": csrf}).status_code == 204


def test_pending_webhooks_survive_a_killed_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # No attempt is under way for 1.6 s after one is logged: kill then.
    slower = ("--webhook-retry-after", "2", "--webhook-allow-network", "127.0.0.0/8")
    with running_receiver() as receiver:
        server = start_server(data_dir, *slower)
        try:
            site = Site(server, receiver, data_dir)
            alice = site.person()
            endpoint, path = site.endpoint(alice, "down")
            receiver.defaults[path] = 503
            site.open(site.sent(alice))
            (failed,) = receiver.wait_for(arrived(1), what="the first attempt", path=path)
            wait_until(lambda: bool(site.deliveries(alice, endpoint)[0]["attempts"]), "the attempt logged")
            server.kill()  # kill -9: nothing is handed back, nothing is flushed
            receiver.defaults[path] = 200
            server = start_server(data_dir, *slower)
            site = Site(server, receiver, data_dir)
            wait_until(lambda: site.deliveries(alice, endpoint)[0]["status"] == "delivered", "delivered after restart")
            seen = receiver.wait_for(lambda s: any(r.answered == 200 for r in s), path=path)
            assert {r.id for r in seen} == {failed.id} and all(r.verified for r in seen)
            assert [r.answered for r in seen if r.answered == 200] == [200]
        finally:
            server.stop()


def test_a_delivery_under_way_when_the_server_stops_is_sent_again_at_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_receiver() as receiver:
        server = start_server(data_dir, *RETRY)
        try:
            site = Site(server, receiver, data_dir)
            alice = site.person()
            endpoint, path = site.endpoint(alice, "slow")
            receiver.stalls[path] = [3.0]  # the first request hangs while the server stops
            site.open(site.sent(alice))
            wait_until(lambda: bool(receiver.stalls[path] == []), "the delivery under way")
            server.stop()  # SIGTERM: the worker hands its claim back instead of holding it for the lease
            server = start_server(data_dir, *RETRY)
            site = Site(server, receiver, data_dir)
            # Sent again well within the lease (30 s or more): the claim was released, not left to expire.
            wait_until(lambda: site.deliveries(alice, endpoint)[0]["status"] == "delivered", "delivered", timeout=15)
            seen = receiver.wait_for(arrived(2), path=path)
            assert len({r.id for r in seen}) == 1 and all(r.verified for r in seen)
        finally:
            server.stop()
