"""What each dashboard page shows and does, against a real server whose mail was opened and clicked over HTTP."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from mailbeacon.outbound import Captured, read_captured
from mailbeacon.store import Store, open_store
from tests.support.dashboard import Session, add_user, judged, send, wait_for
from tests.support.servers import Server, running_server

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
BOT = "python-requests/2.31"
PROPOSAL, NOTE = "Proposal for Bob and Carol", "A plain note for Dave"
EXTRA_OPENS = 55


@dataclass
class World:
    server: Server
    keys: dict[str, str]
    proposal: int
    note: int
    copies: list[Captured]
    events: list[dict[str, Any]]

    def store(self) -> Store:
        return open_store(f"sqlite:///{self.server.data_dir / 'mailbeacon.db'}")

    def api(self, path: str) -> Any:
        response = httpx.get(self.server.url + path, headers={"Authorization": f"Bearer {self.keys['ann']}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("pages") / "data"
    keys = {"ann": add_user(data, "ann@example.com", "--seat", "sales")["api_key"],
            "ada": add_user(data, "ada@example.com", "--admin")["api_key"]}
    with running_server(data, "--honeypot", "--webhook-allow-network", "127.0.0.0/8") as server:
        proposal = send(server.url, keys["ann"], to=["bob@example.org", "carol@example.net"], subject=PROPOSAL,
                        html='<p>Hi, <a href="https://example.com/pricing">pricing</a> and '
                             '<a href="https://example.com/terms">terms</a>.</p>')
        note = send(server.url, keys["ann"], to="dave@example.com", subject=NOTE, text="Hello Dave,\nsee you.\n")
        copies = wait_for(lambda: c if len(c := read_captured(data / "captured")) == 3 else None, "three copies")
        bob = next(c for c in copies if c.delivered_to == "bob@example.org")
        hits = [(bob.pixel_urls[0], THUNDERBIRD), (bob.click_urls[0], THUNDERBIRD)]
        hits += [(bob.pixel_urls[0], BOT)] * EXTRA_OPENS
        with httpx.Client(timeout=10) as client:
            for url, agent in hits:
                client.get(url, headers={"User-Agent": agent})
        events = judged(server.url, keys["ada"], len(hits))
        yield World(server, keys, proposal, note, copies, events)


@pytest.fixture
def ann(world: World) -> Iterator[Session]:
    with Session(world.server.url) as session:
        session.login("ann@example.com")
        yield session


@pytest.fixture
def ada(world: World) -> Iterator[Session]:
    with Session(world.server.url) as session:
        session.login("ada@example.com")
        yield session


def texts(tree: Any, selector: str) -> list[str]:
    return [" ".join(node.text(separator=" ").split()) for node in tree.css(selector)]


def flash(session: Session, page: str = "/settings") -> str:
    node = session.page(page).css_first("#flash")
    return node.text() if node is not None else ""


# --- activity -------------------------------------------------------------------------------------------


def test_activity_shows_opens_and_clicks_newest_first_with_badge_and_client(world: World, ann: Session) -> None:
    tree = ann.page("/activity")
    items = tree.css("#feed .feed-item")
    assert len(items) == 50
    ids = [int(str(item.attributes["data-id"])) for item in items]
    assert ids == sorted(ids, reverse=True) and ids[0] == max(e["id"] for e in world.events)
    oldest = ann.page(f"/activity?before={world.events[1]['id']}").css("#feed .feed-item")
    assert [int(str(i.attributes["data-id"])) for i in oldest] == [world.events[0]["id"]]
    first_open = oldest[0]
    assert first_open.css_first(".recipient").text() == "bob@example.org"
    assert first_open.css_first(".recipient").attributes["href"] == "/contacts/bob@example.org"
    assert first_open.css_first(".action").text() == "opened"
    assert first_open.css_first(".subject").text() == PROPOSAL
    assert first_open.css_first(".subject").attributes["href"] == f"/messages/{world.proposal}"
    assert first_open.css_first(".badge").text() == "human"
    assert first_open.css_first(".client-name").text() == "Thunderbird (Windows)"
    assert first_open.css_first(".client-icon").attributes["src"] == "/static/icons/thunderbird.svg"
    when = first_open.css_first("time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(when.attributes["datetime"]))
    assert when.text().endswith("UTC")
    machine = items[0]
    assert machine.css_first(".badge").text() == "machine"
    assert machine.css_first(".badge").attributes["title"]  # why: the reasons, as a tooltip


def test_activity_pages_back_with_older_links(world: World, ann: Session) -> None:
    seen: list[int] = []
    path: str | None = "/activity"
    while path is not None:
        tree = ann.page(path)
        seen += [int(str(i.attributes["data-id"])) for i in tree.css("#feed .feed-item")]
        older = tree.css_first("a.older")
        path = "/activity" + str(older.attributes["href"]) if older is not None else None
        assert len(seen) <= len(world.events)
    assert seen == sorted((e["id"] for e in world.events), reverse=True)


def test_activity_has_what_the_live_script_needs(ann: Session) -> None:
    tree = ann.page("/activity")
    for selector in ("#feed", "#feed-item-template", "#toasts", "#enable-notifications", "#live-status",
                     'script[src="/static/dashboard.js"]', 'meta[name="csrf-token"]'):
        assert tree.css_first(selector) is not None, selector
    rules = json.loads(str(tree.css_first("#feed").attributes["data-client-icons"]))
    assert ["thunderbird", "thunderbird"] in rules
    older = ann.page("/activity?before=5")
    assert older.css_first("#feed-item-template") is None  # an older page is not live
    for asset in ("/static/dashboard.js", "/static/dashboard.css", "/static/icons/thunderbird.svg"):
        assert ann.get(asset).status_code == 200, asset


# --- messages -------------------------------------------------------------------------------------------


def test_messages_table_shows_counts_and_rates_human_and_raw(world: World, ann: Session) -> None:
    tree = ann.page("/messages")
    rows = {int(str(r.attributes["data-id"])): r for r in tree.css("#messages tbody tr")}
    assert set(rows) == {world.proposal, world.note}
    detail = world.api(f"/api/v1/messages/{world.proposal}")
    cells = texts(rows[world.proposal], "td")
    assert cells[1] == PROPOSAL and cells[2] == "2"
    assert cells[3] == f"{detail['opens']['human']} / {detail['opens']['raw']}"
    assert cells[4] == f"{detail['clicks']['human']} / {detail['clicks']['raw']}"
    assert cells[5].split() == ["50%", "/", "50%"]  # one of two recipients opened, as a person and at all
    assert cells[6].split() == ["0%", "/", "50%"]  # the click came seconds after delivery: a scanner's


def test_messages_sort_and_filter(world: World, ann: Session) -> None:
    def ids(path: str) -> list[int]:
        return [int(str(r.attributes["data-id"])) for r in ann.page(path).css("#messages tbody tr")]

    assert ids("/messages") == [world.note, world.proposal]  # newest first
    assert ids("/messages?sort=created_at&dir=asc") == [world.proposal, world.note]
    assert ids("/messages?sort=open_rate") == [world.proposal, world.note]
    assert ids("/messages?sort=open_rate&dir=asc") == [world.note, world.proposal]
    assert ids("/messages?recipient=DAVE@example.com") == [world.note]
    assert ids("/messages?opened=no") == [world.note]
    assert ids("/messages?opened=yes&clicked=no") == [world.proposal]
    assert ids("/messages?period=24h") == [world.note, world.proposal]
    assert ids("/messages?sort=nonsense&period=nonsense") == [world.note, world.proposal]
    empty = ann.page("/messages?recipient=nobody@example.org")
    assert "No message matches" in empty.css_first("#messages-empty").text()


def test_message_detail_has_counts_chart_recipients_links_and_events(world: World, ann: Session) -> None:
    tree = ann.page(f"/messages/{world.proposal}")
    assert tree.css_first("#message-subject").text() == PROPOSAL
    chart = tree.css_first("svg#timeline-chart")
    assert chart is not None and "human opens" in str(chart.attributes["aria-label"])
    def total(series: str) -> int:  # what the bars' tooltips add up to ("13:00 UTC: 3 human opens")
        return sum(int(t.split(": ")[1].split()[0]) for t in texts(chart, f"rect.bar.{series} title"))

    assert (total("open-human"), total("open-machine"), total("click-human"), total("click-machine")) == (
        1, EXTRA_OPENS, 0, 1)
    assert texts(tree, "#chart-legend li") == ["human opens", "machine opens", "human clicks", "machine clicks"]
    assert any(label.isdigit() for label in texts(chart, "text.axis"))  # the value axis is labelled
    recipients = {r.css_first(".recipient").text(): texts(r, "td") for r in tree.css("#recipients tbody tr")}
    assert set(recipients) == {"bob@example.org", "carol@example.net"}
    assert recipients["bob@example.org"][2] == f"1 / {1 + EXTRA_OPENS}"
    assert "Thunderbird (Windows)" in recipients["bob@example.org"][6]
    assert recipients["carol@example.net"][2] == "0 / 0"
    links = texts(tree, "#links tbody tr td.url-cell")
    assert links == ["https://example.com/pricing", "https://example.com/terms"]  # the honeypot is not a link
    bob = next(c for c in world.copies if c.delivered_to == "bob@example.org")
    assert len(bob.click_urls) == 3  # ...though the copy has it
    events = tree.css("#message-feed .feed-item")
    assert events and all(e.css_first(".request .ua") is not None for e in events)
    assert THUNDERBIRD in texts(tree, "#message-feed .ua")


def test_a_message_nobody_opened_says_so(world: World, ann: Session) -> None:
    tree = ann.page(f"/messages/{world.note}")
    assert tree.css_first("#timeline-chart") is None
    assert "Nothing opened or clicked yet" in tree.css_first("#timeline").text()
    assert tree.css("#message-feed .feed-item") == []


# --- contacts -------------------------------------------------------------------------------------------


def test_contacts_list_and_a_contacts_timeline(world: World, ann: Session) -> None:
    tree = ann.page("/contacts")
    contacts = {r.css_first(".recipient").text(): texts(r, "td") for r in tree.css("#contacts tbody tr")}
    assert set(contacts) == {"bob@example.org", "carol@example.net", "dave@example.com"}
    assert contacts["bob@example.org"][1] == "1"
    assert contacts["bob@example.org"][2] == f"1 / {1 + EXTRA_OPENS}"
    by_email = [r.css_first(".recipient").text() for r in ann.page("/contacts?sort=email&dir=asc").css(
        "#contacts tbody tr")]
    assert by_email == sorted(by_email)
    bob = ann.page("/contacts/Bob@Example.org")  # an address in any case is one person
    assert bob.css_first("#contact-email").text() == "bob@example.org"
    recipients = {i.css_first(".recipient").text() for i in bob.css("#contact-feed .feed-item")}
    assert recipients == {"bob@example.org"}
    assert texts(bob, "#contact-messages .subject") == [PROPOSAL]


# --- captured mail --------------------------------------------------------------------------------------


def test_captured_mail_lists_the_copies_and_shows_each(world: World, ann: Session) -> None:
    tree = ann.page("/captured")
    subjects = texts(tree, "#captured tbody .subject")
    assert sorted(subjects) == sorted([PROPOSAL, PROPOSAL, NOTE])
    bob = next(c for c in world.copies if c.delivered_to == "bob@example.org")
    page = ann.page(f"/captured/{bob.path.name}")
    frame = page.css_first("iframe#captured-frame")
    assert frame is not None and frame.attributes["src"] == f"/captured/{bob.path.name}/html"
    html = ann.get(f"/captured/{bob.path.name}/html")
    assert bob.click_urls[0] in html.text and bob.pixel_urls[0] in html.text
    dave = next(c for c in world.copies if c.delivered_to == "dave@example.com")
    text_page = ann.page(f"/captured/{dave.path.name}")
    assert text_page.css_first("iframe") is None
    assert text_page.css_first("pre#captured-text").text() == "Hello Dave,\nsee you.\n"
    assert ann.get(f"/captured/{dave.path.name}/html").status_code == 404


# --- settings -------------------------------------------------------------------------------------------


def test_notification_rules_are_saved(world: World, ann: Session) -> None:
    ann.post("/settings/notifications", {"reopen": "never", "clicks": "on"})
    assert "saved" in flash(ann)
    with world.store() as store:
        user = store.user_by_email("ann@example.com")
        assert user is not None
        assert (user.notify_first_open, user.notify_reopen_after, user.notify_clicks) == (False, None, True)
    ann.post("/settings/notifications", {"first_open": "on", "reopen": "after", "reopen_hours": "2.5"})
    tree = ann.page("/settings")
    assert "checked" in tree.css_first("#notify-first-open").attributes
    assert tree.css_first("#notify-reopen-hours").attributes["value"] == "2.5"
    ann.post("/settings/notifications", {"reopen": "after", "reopen_hours": "-3"})
    assert "number of hours" in flash(ann)
    with world.store() as store:
        user = store.user_by_email("ann@example.com")
        assert user is not None
        assert (user.notify_first_open, user.notify_reopen_after, user.notify_clicks) == (True, 9000.0, False)


def test_webhooks_add_show_the_secret_test_redeliver_disable_delete(world: World, ann: Session) -> None:
    ann.post("/settings/webhooks", {"url": "ftp://example.com/hook"})
    assert "Not added" in flash(ann)
    made = ann.post("/settings/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["open.human", "click"]})
    assert made.status_code == 303
    page = made.headers["location"]
    tree = ann.page(page)
    with world.store() as store:
        hook = store.webhooks_of(1)[-1]
    assert hook.event_filter == ("open.human", "click")
    assert tree.css_first("#webhook-secret").text() == hook.secret
    assert texts(ann.page("/settings"), "#webhook-list .url-cell") == ["http://127.0.0.1:9/hook"]
    ann.post(f"{page}/test")
    assert "on its way" in flash(ann, page)
    rows = ann.page(page).css("#webhook-deliveries .delivery-row")
    assert len(rows) == 1 and "test" in rows[0].text()
    ann.post(f"{page}/redeliver", {"delivery": str(rows[0].attributes["data-id"])})
    assert "Queued again" in flash(ann, page)
    ann.post(f"{page}/redeliver", {"delivery": "999999"})
    assert "No such delivery" in flash(ann, page)
    ann.post(f"{page}/enabled", {"enabled": "0"})
    assert ann.page(page).css_first("#webhook-toggle").text() == "Enable"
    ann.post(f"{page}/delete")
    assert ann.get(page).status_code == 404
    assert ann.page("/settings").css_first("#webhooks-empty") is not None


def test_do_not_track_each_user_keeps_a_list_and_admins_the_admin_wide_one(world: World, ann: Session,
                                                                            ada: Session) -> None:
    # issue #12: a user's entries are their own; the admin-wide list is an admin's to see and change.
    ann.post("/settings/dnt/add", {"address": "Quiet@Example.org"})
    assert "no longer tracked" in flash(ann)
    assert texts(ann.page("/settings"), "#dnt-list li span") == ["quiet@example.org"]
    assert ann.page("/settings").css_first("#dnt-global-list") is None
    assert ada.page("/settings").css_first("#dnt-list") is None  # ann's list is not ada's
    ada.post("/settings/dnt/add", {"address": "Hush@Example.org", "scope": "global"})
    assert "admin-wide" in flash(ada)
    assert texts(ada.page("/settings"), "#dnt-global-list li span") == ["hush@example.org"]
    ann.post("/settings/dnt/add", {"address": "not an address"})
    assert "one email address" in flash(ann)
    with world.store() as store:
        ann_id = next(u.id for u in store.users() if u.email == "ann@example.com")
        assert store.do_not_track_entries() == [("hush@example.org", None), ("quiet@example.org", ann_id)]
    ann.post("/settings/dnt/remove", {"address": "quiet@example.org"})
    assert "tracked again" in flash(ann)
    ada.post("/settings/dnt/remove", {"address": "hush@example.org", "scope": "global"})
    assert "tracked again" in flash(ada)
    with world.store() as store:
        assert store.do_not_track_entries() == []


def test_privacy_settings_are_an_admins(world: World, ada: Session) -> None:
    ada.post("/settings/privacy", {"ip_truncate_after_days": "7", "retention_days": "365"})
    assert "saved" in flash(ada)
    ada.post("/settings/privacy", {"ip_truncate_after_days": "3", "retention_days": "0"})
    assert "Not saved" in flash(ada)
    with world.store() as store:
        settings = store.get_settings()
        assert (settings.ip_truncate_after_days, settings.retention_days) == (7, 365)  # all or nothing
    ada.post("/settings/privacy", {"ip_truncate_after_days": "", "retention_days": ""})
    with world.store() as store:
        settings = store.get_settings()
        assert (settings.ip_truncate_after_days, settings.retention_days) == (None, None)
    tree = ada.page("/settings")
    assert tree.css_first("#ip-truncate").attributes["value"] == ""


# --- users ----------------------------------------------------------------------------------------------


def test_an_admin_adds_a_user_whose_credentials_show_once(world: World, ada: Session) -> None:
    response = ada.post("/users", {"email": "new@example.com", "seat": "sales"})
    assert response.status_code == 200
    tree = HTMLParser(response.text)
    api_key = tree.css_first("#created-api-key").text()
    assert tree.css_first("#created-smtp-password").text()
    events = httpx.get(f"{world.server.url}/api/v1/events", headers={"Authorization": f"Bearer {api_key}"})
    assert events.status_code == 200
    again = ada.get("/users")
    assert api_key not in again.text and "#created-api-key" not in again.text
    assert "new@example.com" in texts(HTMLParser(again.text), "#users .user-row td:first-child")
    ada.post("/users", {"email": "new@example.com", "seat": "sales"})
    assert "exists already" in flash(ada, "/users")
    ada.post("/users", {"email": "no at sign", "seat": "sales"})
    assert "Give an email address" in flash(ada, "/users")


def test_an_admin_changes_seats_and_passwords_but_not_their_own_admin_role(world: World, ada: Session) -> None:
    with world.store() as store:
        ann = store.user_by_email("ann@example.com")
        me = store.user_by_email("ada@example.com")
        assert ann is not None and me is not None
    ada.post(f"/users/{ann.id}", {"seat": "basic"})
    ada.post(f"/users/{ann.id}/password", {"password": "set by the admin"})
    assert "logged out" in flash(ada, "/users")
    with Session(world.server.url) as browser:
        assert browser.login("ann@example.com", "set by the admin").status_code == 303
    ada.post(f"/users/{me.id}", {"seat": "basic"})  # no admin box: would take away ada's own role
    assert "cannot take away your own admin role" in flash(ada, "/users")
    with world.store() as store:
        changed, mine = store.user_by_id(ann.id), store.user_by_id(me.id)
        assert changed is not None and changed.seat == "basic" and not changed.is_admin
        assert mine is not None and mine.is_admin
    ada.post(f"/users/{ann.id}", {"seat": "sales"})
    ada.post(f"/users/{ann.id}/password", {"password": "correct horse battery"})


def test_a_new_user_is_told_what_to_do(world: World, ada: Session) -> None:
    ada.post("/users", {"email": "fresh@example.com", "seat": "basic"})
    with world.store() as store:
        fresh = store.user_by_email("fresh@example.com")
        assert fresh is not None
    ada.post(f"/users/{fresh.id}/password", {"password": "fresh and long enough"})
    with Session(world.server.url) as browser:
        browser.login("fresh@example.com", "fresh and long enough")
        assert "No activity yet" in browser.page("/activity").css_first("#feed-empty").text()
        assert "Captured mail" in browser.page("/activity").css_first("#feed-empty").text()
        for page, empty in [("/messages", "#messages-empty"), ("/contacts", "#contacts-empty"),
                            ("/captured", "#captured-empty")]:
            assert browser.page(page).css_first(empty) is not None, page
        assert browser.page("/activity").css_first("#nav-users") is None


def test_a_large_messages_recipients_come_a_hundred_a_page(world: World, ann: Session) -> None:
    with world.store() as store:
        owner = store.user_by_email("ann@example.com")
        assert owner is not None
        big = store.record_message(
            user_id=owner.id, sender=owner.email, subject="To everyone", message_id_header=None,
            deliveries=[(secrets.token_bytes(12), f"r{i:03}@example.org") for i in range(105)], links=[],
        )
    first = ann.page(f"/messages/{big}")
    assert len(first.css("#recipients tbody tr")) == 100
    assert "of 105" in first.css_first("#message-stats").text()
    assert "1–100 of 105" in first.css_first(".pager.pad").text()
    rest = ann.page(f"/messages/{big}" + str(first.css_first(".pager.pad a.older").attributes["href"]))
    assert texts(rest, "#recipients .recipient") == [f"r{i:03}@example.org" for i in range(100, 105)]
    assert rest.css_first(".pager.pad a.older") is None
