# issue #13, item 2: a campaign's subject is a template; people are shown what each recipient saw.
"""Campaign subjects as their recipients saw them, against a real `mailbeacon serve` and aiosmtpd upstream.

Ann sends `Hello {{ contact.first_name | default("there") }}` to Bob, Carol and someone without a
first name; Bob and Carol open in Thunderbird. Every per-recipient view (the feed, the live
stream's notification text, a webhook's payload, a contact's timeline and messages, the message's
recipients, the CSV, `mailbeacon feed`) says "Hello Bob"; per-message views name the campaign and
label the template as a template.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from tests.support.dashboard import Session, add_user, judged
from tests.support.servers import Server, running_server
from tests.support.smtp import running_sink
from tests.web.test_campaign_reports import THUNDERBIRD, copies_of
from tests.webhooks.receiver import Receiver, running_receiver

SUBJECT = 'Hello {{ contact.first_name | default("there") }}'
TEMPLATE = '<html><body><p>Hi {{ contact.first_name | default("there") }}</p><a href="https://shop.example/">Shop</a></body></html>\n'
BOB, CAROL, NONAME = "bob@example.org", "carol@example.org", "noname@example.org"


@dataclass
class World:
    server: Server
    data: Path
    key: str
    admin_key: str
    campaign_id: int
    message_id: int
    receiver: Receiver
    hook_path: str

    def api(self, path: str, **params: Any) -> Any:
        answer = httpx.get(self.server.url + path, params=params or None, timeout=30,
                           headers={"Authorization": f"Bearer {self.key}"})
        assert answer.status_code == 200, answer.text
        return answer.json() if "json" in answer.headers["content-type"] else answer.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("subjects") / "data"
    key = add_user(data, "ann@example.com", "--seat", "sales")["api_key"]
    admin_key = add_user(data, "ada@example.com", "--admin")["api_key"]
    contacts = data.parent / "contacts.csv"
    contacts.write_text(f"email,first_name\n{BOB},Bob\n{CAROL},Carol\n{NONAME},\n")
    result = CliRunner().invoke(main, ["contacts", "import", str(contacts), "--list", "friends", "--data", str(data)])
    assert result.exit_code == 0, result.output
    template = data.parent / "hello.html"
    template.write_text(TEMPLATE)
    with running_sink() as sink, running_receiver() as receiver, \
            running_server(data, "--upstream", sink.url, "--webhook-retry-after", "0.2",
                               "--webhook-allow-network", "127.0.0.0/8") as server:  # the receiver is local
        made = httpx.post(f"{server.url}/api/v1/webhooks", json={"url": receiver.url("ann")}, timeout=10,
                          headers={"Authorization": f"Bearer {key}"})
        assert made.status_code == 201, made.text
        hook_path = receiver.expect(made.json())
        subprocess.run(
            [sys.executable, "-m", "mailbeacon", "campaign", "send", "--name", "hello", "--list", "friends",
             "--template", str(template), "--subject", SUBJECT, "--from", "Ann <ann@example.com>",
             "--as", "ann@example.com", "--base-url", server.url, "--data", str(data), "--wait"],
            capture_output=True, text=True, timeout=120, check=True,
        )
        with sqlite3.connect(data / "mailbeacon.db") as db:
            campaign_id, message_id = db.execute("SELECT id, message_id FROM campaigns WHERE name = 'hello'").fetchone()
            db.execute("UPDATE deliveries SET accepted_at = accepted_at - 3600, created_at = created_at - 3600 "
                       "WHERE message_id = ?", (message_id,))  # read an hour after delivery, as people do
        copies = copies_of(sink.received, campaign_id)
        for n, reader in enumerate((BOB, CAROL), 10):
            opened = httpx.get(copies[reader].pixel, timeout=10,
                               headers={"User-Agent": THUNDERBIRD, "X-Forwarded-For": f"198.51.100.{n}"})
            assert opened.status_code == 200
        judged(server.url, admin_key, 2)
        yield World(server, data, key, admin_key, campaign_id, message_id, receiver, hook_path)


def test_the_copies_carry_their_rendered_subjects(world: World) -> None:
    recipients = {r["recipient"]: r for r in world.api(f"/api/v1/messages/{world.message_id}")["recipients"]}
    assert {address: r["subject"] for address, r in recipients.items()} == {
        BOB: "Hello Bob", CAROL: "Hello Carol", NONAME: "Hello there"}


def test_the_feed_and_its_notifications_say_what_the_recipient_saw(world: World) -> None:
    items = {item["recipient"]: item for item in world.api("/api/v1/feed")["items"]}
    assert (items[BOB]["subject"], items[CAROL]["subject"]) == ("Hello Bob", "Hello Carol")
    assert items[BOB]["notify"]["title"] == f"{BOB} opened “Hello Bob”"
    timeline = world.api(f"/api/v1/contacts/{BOB}")["timeline"]
    assert [item["subject"] for item in timeline] == ["Hello Bob"]
    shown = CliRunner().invoke(main, ["feed", "--json", "--data", str(world.data)])
    assert shown.exit_code == 0, shown.output
    assert {json.loads(line)["subject"] for line in shown.stdout.splitlines()} == {"Hello Bob", "Hello Carol"}


def test_a_webhook_payload_carries_the_rendered_subject(world: World) -> None:
    got = world.receiver.wait_for(lambda seen: len(seen) >= 2, what="two opens", path=world.hook_path)
    assert {r.json()["data"]["recipient"]: r.json()["data"]["subject"] for r in got} == {
        BOB: "Hello Bob", CAROL: "Hello Carol"}
    assert all(r.verified for r in got)


def test_per_message_views_name_the_campaign_and_label_the_template(world: World) -> None:
    detail = world.api(f"/api/v1/messages/{world.message_id}")
    assert detail["campaign"] == {"id": world.campaign_id, "name": "hello"} and detail["subject"] == SUBJECT
    (listed,) = world.api("/api/v1/messages", campaign=str(world.campaign_id))["messages"]
    assert listed["campaign"] == {"id": world.campaign_id, "name": "hello"}
    one_to_one = world.api("/api/v1/messages", recipient=BOB)["messages"]
    assert [m["subject"] for m in one_to_one] == ["Hello Bob"]  # a person's list: what they got
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(
        world.api(f"/api/v1/campaigns/{world.campaign_id}/recipients.csv")))}
    assert (rows[BOB]["subject"], rows[NONAME]["subject"]) == ("Hello Bob", "Hello there")


def test_the_dashboard_shows_each_person_their_subject(world: World) -> None:
    with Session(world.server.url) as ann:
        ann.login("ann@example.com")
        activity = ann.page("/activity")
        subjects = {node.text() for node in activity.css(".feed-item .subject")}
        assert subjects == {"Hello Bob", "Hello Carol"}
        contact = ann.page(f"/contacts/{BOB}")
        assert [a.text() for a in contact.css("#contact-messages .subject")] == ["Hello Bob"]
        assert {a.text() for a in contact.css("#contact-feed .subject")} == {"Hello Bob"}
        messages = ann.page("/messages")
        row = next(r for r in messages.css(".message-row") if r.attributes.get("data-id") == str(world.message_id))
        assert row.css_first(".subject").text() == "hello"
        assert row.css_first(".subject-template").text() == f"campaign · subject template: {SUBJECT}"
        message = ann.page(f"/messages/{world.message_id}")
        assert message.css_first("#message-subject").text() == "hello"
        assert message.css_first(".subject-template").text() == SUBJECT
        assert sorted(td.text() for td in message.css(".recipient-subject")) == [
            "Hello Bob", "Hello Carol", "Hello there"]
        campaign = ann.page(f"/campaigns/{world.campaign_id}")
        assert "Subject template: " + SUBJECT in " ".join(campaign.css_first(".lede").text().split())
