# issue #14, item 5: contacts are one thing.
"""The contacts API against a real `mailbeacon serve` delivering to a real aiosmtpd upstream.

Ann writes to Bob (To) and Carol (Cc) with Dave and herself in Bcc, to herself alone in a
note, and to an address the upstream refuses; through the SMTP relay she writes to Gus with Hal
and herself in the envelope only (Bcc as mail clients send it); Bob opens her mail. A CSV import adds Bob's
fields and a contact never written to. Then: who is listed, search, the record (fields, lists,
subscription, bounces), PATCH, and an admin's erase that says what it removed.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.dashboard import add_user, judged, send, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Sink, running_sink

REFUSED = "gone@example.org"
CSV = (
    "email,First Name,Company\n"
    "BOB@example.org,Bob,Acme\n"
    "zoe@example.org,Zoë,Initech\n"
    "not-an-address,X,Y\n"
)


@dataclass
class World:
    server: Server
    sink: Sink
    keys: dict[str, str]
    first: int
    """Ann's message to Bob, Carol, and in Bcc Dave and herself."""


def api(world: World, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.keys[who]}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{world.server.url}{path}", headers=headers, timeout=20, **kwargs)


def listed(world: World, who: str, **params: Any) -> list[str]:
    response = api(world, who, "GET", "/api/v1/contacts", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return sorted(c["email"] for c in response.json()["contacts"])


def pixel_of(content: bytes) -> str:
    message = email.message_from_bytes(content, policy=email.policy.default)
    body = message.get_body(("html",))
    assert body is not None
    found = re.search(r'/o/[^"\s]+\.gif', body.get_content())
    assert found, "a pixel in the copy"
    return found.group(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("contacts-api") / "data"
    ann = add_user(data, "ann@example.com", "--seat", "sales", password=None)
    keys = {
        "ann": ann["api_key"],
        "eve": add_user(data, "eve@example.com", "--seat", "sales", password=None)["api_key"],
        "ada": add_user(data, "ada@example.com", "--admin", password=None)["api_key"],
    }
    with running_sink() as sink, running_server(data, "--upstream", sink.url, "--smtp-plain-auth") as server:
        sink.handler.reply = lambda envelope: (
            "550 5.1.1 mailbox unavailable" if REFUSED in envelope.rcpt_tos else "250 2.0.0 OK")
        first = send(server.url, keys["ann"], to="bob@example.org", cc=["carol@example.org"],
                     bcc=["dave@example.org", "ann@example.com"], subject="Q3 plans", html="<p>Plans</p>")
        send(server.url, keys["ann"], to="ann@example.com", subject="Note to self", html="<p>Remember</p>")
        send(server.url, keys["ann"], to=REFUSED, subject="Hello?", html="<p>Anyone?</p>")
        send(server.url, keys["eve"], to="frank@example.org", bcc=["eve@example.com"], subject="Hi", html="<p>Hi</p>")
        assert server.smtp is not None
        with smtplib.SMTP(*server.smtp, timeout=10) as relay:  # a mail client: Bcc is in the envelope only
            relay.login("ann@example.com", ann["smtp_password"])
            relay.sendmail("ann@example.com", ["gus@example.org", "hal@example.org", "ann@example.com"], (
                "From: Ann <ann@example.com>\r\nTo: Gus <gus@example.org>\r\nSubject: Relayed\r\n"
                "Content-Type: text/html\r\n\r\n<p>Hi Gus</p>\r\n").encode())
        world = World(server, sink, keys, first)
        wait_for(lambda: len(sink.received) == 10, "ten copies accepted by the upstream")
        to_bob = next(r for r in sink.received if r.rcpt_tos == ["bob@example.org"])
        assert httpx.get(server.url + pixel_of(to_bob.content), headers={"User-Agent": "Mozilla/5.0"}).status_code == 200
        judged(server.url, keys["ada"], 1)
        wait_for(lambda: api(world, "ann", "GET", f"/api/v1/contacts/{REFUSED}").json()["record"]["bounces"]["count"],
                 "the refused copy to bounce")
        imported = api(world, "ann", "POST", "/api/v1/contacts/import", params={"list": "leads"}, content=CSV,
                       headers={"Content-Type": "text/csv"})
        assert imported.status_code == 200, imported.text
        yield world


def test_bcc_recipients_and_the_sender_are_not_her_contacts_unless_she_wrote_to_them(world: World) -> None:
    people = listed(world, "ann")
    assert "bob@example.org" in people and "carol@example.org" in people  # To and Cc
    assert "dave@example.org" not in people  # Bcc only
    assert "ann@example.com" in people  # her note to herself; her own Bcc copy alone would not list her
    assert listed(world, "ann", q="dave") == [] and listed(world, "ann", q="ann@") == ["ann@example.com"]
    assert listed(world, "ann", q="gus") == ["gus@example.org"] and listed(world, "ann", q="hal") == []  # the relay
    assert listed(world, "eve", q="eve@") == [] and listed(world, "eve", q="frank") == ["frank@example.org"]  # her own Bcc
    dave = api(world, "ann", "GET", "/api/v1/contacts/dave@example.org")
    assert dave.status_code == 200, "not listed is not hidden: the feed and the message link to his page"
    assert dave.json()["contact"]["messages"] == 1
    message = api(world, "ann", "GET", f"/api/v1/messages/{world.first}").json()
    assert len(message["recipients"]) == 4, "the message still has all four copies; only the contacts leave them out"


def test_the_import_reports_what_it_did_and_its_contacts_join_the_list(world: World) -> None:
    again = api(world, "ann", "POST", "/api/v1/contacts/import", params={"list": "leads"}, content=CSV,
                headers={"Content-Type": "text/csv"}).json()
    assert (again["created"], again["unchanged"], again["rows"], again["imported"]) == (0, 2, 3, 2)
    assert any("not-an-address" in line for line in again["skipped"])
    assert "zoe@example.org" in listed(world, "ann")  # in the directory, never written to
    zoe = api(world, "ann", "GET", "/api/v1/contacts/zoe@example.org").json()
    assert zoe["contact"]["messages"] == 0 and zoe["contact"]["first_sent_at"] is None
    assert zoe["record"]["fields"] == {"first_name": "Zoë", "company": "Initech"}


def test_bad_imports_say_why_and_import_nothing(world: World) -> None:
    empty = api(world, "ann", "POST", "/api/v1/contacts/import", params={"list": "leads"},
                content="email\nnobody\n", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 400 and "nothing" in empty.json()["error"]
    as_json = api(world, "ann", "POST", "/api/v1/contacts/import", params={"list": "leads"}, json={"a": 1})
    assert as_json.status_code == 415
    no_list = api(world, "ann", "POST", "/api/v1/contacts/import", content=CSV, headers={"Content-Type": "text/csv"})
    assert no_list.status_code == 400 and "list name" in no_list.json()["error"]


def test_search_finds_addresses_and_field_values_in_any_case_but_not_field_names(world: World) -> None:
    assert listed(world, "ann", q="INITECH") == ["zoe@example.org"]
    assert listed(world, "ann", q="bob@") == ["bob@example.org"]
    assert listed(world, "ann", q="company") == []
    assert listed(world, "ann", q="100%_") == []  # LIKE's wildcards are text here
    assert api(world, "ann", "GET", "/api/v1/contacts", params={"q": "x" * 201}).status_code == 400


def test_a_contacts_record_has_fields_lists_subscription_and_bounces(world: World) -> None:
    bob = api(world, "ann", "GET", "/api/v1/contacts/Bob@Example.org").json()
    assert bob["contact"]["opens"]["raw"] == 1
    assert bob["record"] == {
        "fields": {"first_name": "Bob", "company": "Acme"}, "lists": ["leads"], "subscribed": True,
        "unsubscribed_at": None, "unsubscribe_source": None,
        "bounces": {"count": 0, "last_at": None, "last_reply": None},
    }
    gone = api(world, "ann", "GET", f"/api/v1/contacts/{REFUSED}").json()["record"]["bounces"]
    assert gone["count"] == 1 and "550" in gone["last_reply"]


def test_another_user_sees_the_directory_record_but_none_of_anns_mail(world: World) -> None:
    bob = api(world, "eve", "GET", "/api/v1/contacts/bob@example.org").json()
    assert bob["contact"]["messages"] == 0 and bob["timeline"] == []
    assert bob["record"]["fields"]["company"] == "Acme"
    assert api(world, "eve", "GET", "/api/v1/contacts/carol@example.org").status_code == 404  # only Ann wrote to her
    assert api(world, "eve", "GET", f"/api/v1/contacts/{REFUSED}").status_code == 404


def test_patch_sets_and_removes_fields_and_refuses_bad_names_changing_nothing(world: World) -> None:
    path = "/api/v1/contacts/zoe@example.org"
    changed = api(world, "ann", "PATCH", path, json={"fields": {"company": None, "title": "CTO"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["record"]["fields"] == {"first_name": "Zoë", "title": "CTO"}
    for bad in ({"First Name": "x"}, {"email": "a@b.c"}, {"title": 3}, {"title": "a\x1bb"}):
        refused = api(world, "ann", "PATCH", path, json={"fields": bad})
        assert refused.status_code == 400 and "nothing was changed" in refused.json()["error"], bad
    assert api(world, "ann", "GET", path).json()["record"]["fields"] == {"first_name": "Zoë", "title": "CTO"}
    assert api(world, "ann", "PATCH", path, json={"title": "x"}).status_code == 400
    assert api(world, "eve", "PATCH", "/api/v1/contacts/carol@example.org", json={"fields": {}}).status_code == 404


def test_an_admin_erases_a_person_and_is_told_what_went(world: World) -> None:
    assert api(world, "ann", "DELETE", "/api/v1/contacts/bob@example.org").status_code == 403
    erased = api(world, "ada", "DELETE", "/api/v1/contacts/BOB@example.org")
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["erased"] == {
        "events": 1, "feed_items": 1, "webhook_messages": 0, "queued_copies": 0, "campaign_copies": 0,
        "deliveries": 1, "list_memberships": 1, "contact_records": 1,
    }
    assert body["summary"].startswith("Erased bob@example.org: 1 event, 1 feed item, 1 delivery")
    assert api(world, "ada", "GET", "/api/v1/contacts/bob@example.org").status_code == 404
    assert "bob@example.org" not in listed(world, "ann")
    assert not any(e["recipient"] == "bob@example.org"
                   for e in api(world, "ada", "GET", "/api/v1/events", params={"limit": 1000}).json()["events"])
    message = api(world, "ann", "GET", f"/api/v1/messages/{world.first}").json()
    assert sorted(r["recipient"] for r in message["recipients"]) == [
        "ann@example.com", "carol@example.org", "dave@example.org"]
    assert api(world, "ada", "DELETE", "/api/v1/contacts/bob@example.org").status_code == 404
