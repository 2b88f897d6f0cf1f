"""A campaign started on node a, which dies mid-queue, is finished by another node: every contact once (issue #17)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from tests.nodes.conftest import NAMES, NodeSinkHandler, Nodes, api, upstream
from tests.support.dashboard import Session, wait_for

pytestmark = pytest.mark.slow  # three real nodes: 15-25 s

CONTACTS = 1000
"""Four batches of 250: node a dies after writing the first."""
TEMPLATE = '<p>Hello {{ contact.first_name }}, <a href="https://shop.example.com/autumn">the autumn sale</a>.</p>'


def test_a_campaign_whose_node_dies_is_finished_by_another_node_once_per_contact(nodes: Nodes, tmp_path: Path) -> None:
    addresses = [f"reader{n}@example.org" for n in range(CONTACTS)]
    listing = tmp_path / "contacts.csv"
    with listing.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name"])
        writer.writerows((address, f"Reader {n}") for n, address in enumerate(addresses))
    ann = nodes.add_user("ann@example.com", "--seat", "sales")
    nodes.cli("contacts", "import", str(listing), "--list", "autumn")
    # Node a's copies are refused for now, so none of them can reach the upstream twice when it dies.
    handler = NodeSinkHandler(refused={nodes.host("a").address})
    with upstream(nodes.net, handler) as sink:
        a, b, c = nodes.start(NAMES, "--upstream", sink.url, "--retry-after", "1", "--outbound-lease", "6")
        store = nodes.store()
        try:
            with Session(a.url) as browser:
                browser.login("ann@example.com")
                browser.page("/campaigns/new")
                started = browser.post("/campaigns/new", {
                    "name": "autumn", "list": "autumn", "subject": "Autumn", "from": "Shop <ann@example.com>",
                    "html": TEMPLATE, "rate": "", "rate_unit": "second",
                })
                assert started.status_code == 303, started.text
                campaign_id = int(started.headers["location"].rsplit("/", 1)[1])

            def first_batch() -> bool:
                found = store.campaign(campaign_id)
                return found is not None and found.queued > 0

            wait_for(first_batch, "node a to queue its first batch", timeout=60)
            now, leases = store.leases(f"campaign:{campaign_id}")
            assert [(lease.holder, lease.is_held(now)) for lease in leases] == [("node-a", True)]
            nodes.kill("a")
            left = store.campaign(campaign_id)
            assert left is not None and left.status == "sending" and left.queued < CONTACTS, "node a finished first"

            def done() -> bool:
                report = api(b, ann["api_key"], "GET", f"/api/v1/campaigns/{campaign_id}").json()
                return report["status"] == "done"

            wait_for(done, "another node to queue and deliver the rest", timeout=120)
            progress = api(c, ann["api_key"], "GET", f"/api/v1/campaigns/{campaign_id}").json()["progress"]
            assert (progress["queued"], progress["skipped"], progress["sent"]) == (CONTACTS, 0, CONTACTS)
            received = Counter(rcpt for copy in sink.received for rcpt in copy.rcpt_tos)
            assert received == Counter(addresses)  # every contact exactly once
            assert {copy.peer for copy in sink.received} <= {nodes.host("b").address, nodes.host("c").address}
        finally:
            store.close()
