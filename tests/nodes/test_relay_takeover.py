"""Mail the relay of node c accepted is delivered once, by another node, while node c is down (issue #17)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from mailbeacon.store import Store
from tests.nodes.conftest import NAMES, NodeSinkHandler, Nodes, upstream
from tests.support.dashboard import wait_for
from tests.support.smtp import User, relay_client

pytestmark = pytest.mark.slow  # three real nodes: 15-25 s

LEASE = 6.0
"""--outbound-lease: how long node c's claim keeps the copies from the others."""
RECIPIENTS = ("bob@example.org", "carol@example.org", "dan@example.org")


def test_mail_accepted_by_a_node_that_dies_is_delivered_once_by_another(nodes: Nodes) -> None:
    created = nodes.add_user("ann@example.com", "--seat", "sales")
    ann = User(created["email"], created["api_key"], created["smtp_password"])
    others = {nodes.host(name).address for name in ("a", "b")}
    # Node c takes the copies and hangs in DATA until it is killed; the others are turned away until then,
    # so it is node c's claim they must wait out.
    handler = NodeSinkHandler(refused=set(others), held={nodes.host("c").address})
    with upstream(nodes.net, handler) as sink:
        servers = dict(zip(NAMES, nodes.start(NAMES, "--upstream", sink.url, "--retry-after", "1",
                                              "--outbound-lease", str(LEASE))))
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = ann.email, ", ".join(RECIPIENTS), "Proposal"
        message.set_content("Plain words.")
        message.add_alternative('<p>See <a href="https://example.com/proposal">the proposal</a>.</p>', subtype="html")
        relay = servers["c"].smtp
        assert relay is not None
        with relay_client(relay, ann) as client:
            client.send_message(message)  # 250: queued in the shared store
        assert handler.holding.wait(timeout=30), "node c never tried to deliver"
        nodes.kill("c")
        handler.refused.clear()

        store = nodes.store()
        try:
            wait_for(lambda: len(sink.received) >= len(RECIPIENTS), "another node to deliver", timeout=LEASE + 30)
            wait_for(lambda: all_sent(store), "the deliveries to be recorded", timeout=30)
        finally:
            store.close()
        assert sorted(r for copy in sink.received for r in copy.rcpt_tos) == sorted(RECIPIENTS)  # each once
        assert {copy.peer for copy in sink.received} <= others


def all_sent(store: Store) -> bool:
    copies = store.deliveries_of(1)  # the test's only message
    return len(copies) == len(RECIPIENTS) and all(row.status == "sent" for row in copies)
