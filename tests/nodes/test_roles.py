"""Roles split a node's work as Postal does (issue #17): web, smtp and worker on three hosts, one store."""

from __future__ import annotations

import json
import socket
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from mailbeacon.web.tracking import GIF
from tests.nodes.conftest import Nodes, api, tracked, upstream
from tests.support.dashboard import Session, judged, wait_for
from tests.support.smtp import User, relay_client

pytestmark = pytest.mark.slow  # three real nodes: 15-25 s


def test_web_smtp_and_worker_nodes_together_send_track_and_judge(nodes: Nodes, tmp_path: Path) -> None:
    created = nodes.add_user("ada@example.com", "--admin", "--seat", "sales")
    ada = User(created["email"], created["api_key"], created["smtp_password"])
    with upstream(nodes.net) as sink:
        web, relay, worker = nodes.start(("a", "b", "c"), "--upstream", sink.url,
                                         roles={"a": "web", "b": "smtp", "c": "worker"})
        assert web.smtp is None and worker.smtp is None and relay.smtp is not None
        for node in (web, worker):  # no relay there
            with pytest.raises(OSError):
                socket.create_connection((node.url.removeprefix("http://").rsplit(":", 1)[0], 2525), timeout=5)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = ada.email, "bob@example.org", "Roles"
        message.set_content("Plain.")
        message.add_alternative('<p>See <a href="https://example.com/roles">this</a>.</p>', subtype="html")
        with relay_client(relay.smtp, ada) as client:
            client.send_message(message)  # queued by the smtp node ...
        copy = tracked(sink.wait_for(1, timeout=30))[0]
        assert [c.peer for c in sink.received] == [nodes.host("c").address]  # ... delivered by the worker node
        assert httpx.get(web.url + copy.pixel, timeout=10).content == GIF  # opened through the web node
        assert httpx.get(worker.url + copy.pixel, timeout=10).status_code == 404  # no tracking on a worker
        [event] = judged(web.url, ada.api_key, 1)  # judged by the worker node's classify reader
        assert event["recipient"] == "bob@example.org" and event["class"]

        health = httpx.get(worker.url + "/healthz", timeout=10)
        assert health.status_code == 200
        body = health.json()
        assert (body["node"], body["roles"]) == ("node-c", ["worker"])
        wait_for(lambda: {"reader:classify", "reader:webhooks", "privacy"} <= set(
            httpx.get(worker.url + "/healthz", timeout=10).json()["leases"]), "the worker to hold the jobs' leases")
        relay_health = httpx.get(relay.url + "/healthz", timeout=10).json()
        assert (relay_health["roles"], relay_health["leases"]) == (["smtp"], [])
        assert json.loads(httpx.get(web.url + "/healthz", timeout=10).text)["store"] is True

        # A campaign started on the web node is queued by the worker node, which holds its lease.
        listing = tmp_path / "list.csv"
        listing.write_text("email\n" + "".join(f"reader{n}@example.org\n" for n in range(5)))
        nodes.cli("contacts", "import", str(listing), "--list", "few")
        with Session(web.url) as browser:
            browser.login(ada.email)
            browser.page("/campaigns/new")
            started = browser.post("/campaigns/new", {"name": "few", "list": "few", "subject": "Few",
                                                      "from": ada.email, "html": "<p>Hi.</p>", "rate": ""})
            assert started.status_code == 303, started.text
        campaign = int(started.headers["location"].rsplit("/", 1)[1])
        wait_for(lambda: api(web, ada.api_key, "GET", f"/api/v1/campaigns/{campaign}").json()["status"] == "done",
                 "the worker node to queue and send the campaign", timeout=60)
        assert sorted(r for c in sink.received[1:] for r in c.rcpt_tos) == [f"reader{n}@example.org" for n in range(5)]
        assert {c.peer for c in sink.received} == {nodes.host("c").address}
