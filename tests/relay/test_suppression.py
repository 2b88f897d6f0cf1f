"""A hard-bounced address is not mailed again (issue #15, item 3).

Ann's copy to gone@ is refused by the upstream with 550 5.1.1; from then on the relay refuses
that recipient at RCPT, the API answers 409 unless the message says to send anyway, and a
campaign skips the contact and says why, until an admin takes the address off the list.
"""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.dashboard import add_user, cli, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Sink, running_sink

GONE = "gone@example.org"
BOB = "bob@example.org"


@dataclass
class World:
    data: Path
    server: Server
    sink: Sink
    ann: dict[str, str]


def suppressed(world: World) -> dict[str, dict[str, str]]:
    lines = cli("suppression", "list", "--json", "--data", str(world.data)).splitlines()
    return {entry["address"]: entry for entry in map(json.loads, lines)}


def post(world: World, **message: object) -> httpx.Response:
    return httpx.post(f"{world.server.url}/api/v1/messages", json=message, timeout=10,
                      headers={"Authorization": f"Bearer {world.ann['api_key']}"})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("suppression") / "data"
    ann = add_user(data, "ann@example.com", "--admin", "--seat", "sales")
    with running_sink() as sink, running_server(data, "--upstream", sink.url, "--smtp-plain-auth") as server:
        sink.handler.reply = lambda envelope: "550 5.1.1 <gone@example.org>: user unknown" \
            if GONE in envelope.rcpt_tos else "250 2.0.0 OK"
        world = World(data, server, sink, ann)
        assert post(world, to=[GONE, BOB], subject="First", html="<p>Hello</p>").status_code == 202
        wait_for(lambda: GONE in suppressed(world), "the hard bounce to be suppressed")
        yield world


def test_the_list_says_why_and_what_the_upstream_answered(world: World) -> None:
    entry = suppressed(world)[GONE]
    assert entry["reason"] == "hard_bounce" and "550 5.1.1" in entry["detail"]
    assert BOB not in suppressed(world)


def test_the_relay_refuses_the_suppressed_recipient_and_delivers_to_the_others(world: World) -> None:
    assert world.server.smtp is not None
    before = len(world.sink.received)
    with smtplib.SMTP(*world.server.smtp, timeout=10) as relay:
        relay.login("ann@example.com", world.ann["smtp_password"])
        refused = relay.sendmail("ann@example.com", [GONE, BOB],
                                 "From: ann@example.com\r\nTo: gone@example.org, bob@example.org\r\n"
                                 "Subject: Again\r\n\r\nHello\r\n")
    code, why = refused[GONE]
    assert code == 550 and b"5.1.1" in why and b"suppression list" in why and b"hard bounce" in why
    got = world.sink.wait_for(before + 1)
    assert [r.rcpt_tos for r in got[before:]] == [[BOB]]


def test_the_api_queues_nothing_unless_told_to_send_anyway(world: World) -> None:
    refused = post(world, to=[GONE, BOB], subject="Api", html="<p>x</p>")
    assert refused.status_code == 409 and GONE in refused.json()["error"] and "send_to_suppressed" in refused.json()["error"]
    anyway = post(world, to=[GONE], subject="Anyway", html="<p>x</p>", send_to_suppressed=True)
    assert anyway.status_code == 202, anyway.text


def test_a_campaign_skips_the_suppressed_contact_and_names_the_reason(world: World) -> None:
    contacts = world.data.parent / "contacts.csv"
    contacts.write_text(f"email\n{GONE}\n{BOB}\n")
    cli("contacts", "import", str(contacts), "--list", "friends", "--data", str(world.data))
    template = world.data.parent / "t.html"
    template.write_text("<p>Hello</p>")
    subprocess.run(
        [sys.executable, "-m", "mailbeacon", "campaign", "send", "--name", "news", "--list", "friends",
         "--template", str(template), "--subject", "News", "--from", "ann@example.com", "--as", "ann@example.com",
         "--base-url", world.server.url, "--data", str(world.data)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    status = json.loads(cli("campaign", "status", "news", "--json", "--data", str(world.data)))
    assert (status["queued"], status["skipped"]) == (1, 1), status
    assert {"email": GONE, "reason": "suppressed: hard bounce"} in status["skips"], status


def test_once_removed_the_address_is_mailed_again(world: World) -> None:
    assert "removed" in cli("suppression", "remove", GONE, "--data", str(world.data))
    assert GONE not in suppressed(world)
    assert post(world, to=[GONE], subject="Back", html="<p>x</p>").status_code == 202
