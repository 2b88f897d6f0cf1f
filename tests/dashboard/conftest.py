"""One server with two senders and an admin, whose mail went to hostile recipients and was read by hostile clients.

Ann's mail: one message through POST /api/v1/messages (hostile subject, a quote-breaking
recipient, captured and then opened and clicked with hostile User-Agents), and one
message per payload recorded with the payload in its recipient, subject and link,
opened and clicked with the payload as User-Agent. Eve has a message of her own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from mailbeacon.outbound import Captured, read_captured
from mailbeacon.store import open_store
from mailbeacon.tokens import Keyring
from tests.support.dashboard import Session, add_user, judged, send, wait_for
from tests.support.servers import Server, running_server

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "javascript:alert(1)",
]
QUOTE_RECIPIENT = "x'onmouseover='alert@example.org"
"""A quote-breaking address POST /api/v1/messages accepts."""
API_SUBJECT = " ".join(PAYLOADS)


@dataclass
class Hostile:
    server: Server
    keys: dict[str, str]
    """API keys by user name (ann, eve, ada)."""
    api_message: int
    """Ann's message sent through the API."""
    recorded: list[int]
    """Ann's messages with a payload in recipient, subject and link, one per payload."""
    recipients: list[str]
    """Ann's hostile recipients."""
    eve_message: int
    captured: dict[str, list[Captured]] = field(default_factory=dict)
    """Captured copies by sender name."""
    ann_webhook: int = 0


@pytest.fixture(scope="package")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    data = tmp_path_factory.mktemp("hostile") / "data"
    keys = {
        "ann": add_user(data, "ann@example.com", "--seat", "sales")["api_key"],
        "eve": add_user(data, "eve@example.com", "--seat", "sales")["api_key"],
        "ada": add_user(data, "ada@example.com", "--admin")["api_key"],
    }
    with running_server(data, "--webhook-allow-network", "127.0.0.0/8") as server:  # its receivers are local
        api_message = send(server.url, keys["ann"], to=["bob@example.org", QUOTE_RECIPIENT], subject=API_SUBJECT,
                           html='<p>Hello <a href="https://example.com/pricing">pricing</a></p>')
        eve_message = send(server.url, keys["eve"], to="carol@example.net", subject="Eve's own news",
                           html='<p>News <a href="https://example.net/news">here</a></p>')
        copies = wait_for(lambda: c if len(c := read_captured(data / "captured")) == 3 else None,
                          "three copies in the capture mailbox")
        keyring = Keyring.load_or_create(data)
        recorded, recipients, hits = [], [], []
        with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
            ann = store.user_by_email("ann@example.com")
            assert ann is not None
            for payload in PAYLOADS:
                delivery, recipient = secrets.token_bytes(12), f"{payload}@example.org"
                url = f"https://example.com/?q={payload}"
                recorded.append(store.record_message(
                    user_id=ann.id, sender=ann.email, subject=payload, message_id_header=None,
                    deliveries=[(delivery, recipient)], links=[(0, url)],
                ))
                recipients.append(recipient)
                hits += [(f"/o/{keyring.sign_open(delivery)}.gif", payload),
                         (f"/c/{keyring.sign_click(delivery, 0, url)}", payload)]
        for copy in copies:
            hits += [(copy.pixel_urls[0].split("/", 3)[3], PAYLOADS[0]), (copy.click_urls[0].split("/", 3)[3],
                                                                            PAYLOADS[1])]
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for path, agent in hits:
                assert client.get("/" + path.lstrip("/"), headers={"User-Agent": agent}).status_code in (200, 302)
        judged(server.url, keys["ada"], len(hits))
        world = Hostile(server, keys, api_message, recorded, recipients, eve_message)
        world.captured = {
            "ann": [c for c in copies if c.from_address == "ann@example.com"],
            "eve": [c for c in copies if c.from_address == "eve@example.com"],
        }
        with Session(server.url) as ann_session:
            ann_session.login("ann@example.com")
            made = ann_session.post("/settings/webhooks", {"url": "http://127.0.0.1:9/ann-hook"})
            world.ann_webhook = int(made.headers["location"].rsplit("/", 1)[1])
        yield world
