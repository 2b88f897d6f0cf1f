"""Settings → Your mailbox (issue #14): connect from the dashboard; nobody else sees or uses it (404)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.mailboxes.conftest import ANN, ANN_IMAP, ANN_SMTP, EVE, Provider
from tests.support.dashboard import Session, add_user, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Sink, User, relay_client, running_sink


@dataclass
class Dashboard:
    server: Server
    upstream: Sink
    eve: User


@pytest.fixture(scope="module")
def dashboard(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data = tmp_path_factory.mktemp("dashboard") / "data"
    add_user(data, ANN, "--seat", "sales")
    eve = add_user(data, EVE, "--seat", "sales")
    with running_sink() as upstream, running_server(data, "--upstream", upstream.url) as server:
        yield Dashboard(server, upstream, User(EVE, eve["api_key"], eve["smtp_password"]))


def form(provider: Provider, smtp_password: str = ANN_SMTP[1]) -> dict[str, str]:
    return {
        "smtp_host": "localhost", "smtp_port": str(provider.submission.port), "smtp_security": "starttls",
        "smtp_user": ANN_SMTP[0], "smtp_password": smtp_password,
        "imap_host": "localhost", "imap_port": str(provider.dovecot.imaps_port), "imap_security": "tls",
        "imap_user": ANN, "imap_password": ANN_IMAP, "sent_copy": "auto",
    }


def test_ann_connects_her_mailbox_from_settings_and_sees_no_password(provider: Provider, dashboard: Dashboard) -> None:
    with Session(dashboard.server.url) as ann:
        assert ann.login(ANN).status_code == 303
        assert ann.page("/settings").css_first("#settings-mailbox") is not None
        failed = ann.post("/settings/mailbox/connect", form(provider, smtp_password="not hers"))
        assert failed.status_code == 422
        assert "the server refused the username and password" in failed.text and "not hers" not in failed.text
        assert ann.page("/settings/mailbox").css_first("#mailbox-connected") is None  # nothing saved
        connected = ann.post("/settings/mailbox/connect", form(provider))
        assert connected.status_code == 303, connected.text[:2000]
        page = ann.get("/settings/mailbox")
        assert page.status_code == 200 and "Mailbox connected" in page.text
        assert f"localhost:{provider.submission.port} (starttls), login {ANN_SMTP[0]}" in page.text
        assert ANN_SMTP[1] not in page.text and ANN_IMAP not in page.text
        box = ann.page("/settings/mailbox").css_first("#mailbox-connected")
        assert box is not None
        tested = ann.post(f"/settings/mailbox/{box.attributes['data-mailbox']}/test")
        assert tested.status_code == 303
        assert ann.get("/settings/mailbox").text.count("logged in") >= 2


def test_another_user_can_neither_see_nor_use_the_mailbox(provider: Provider, dashboard: Dashboard) -> None:
    with Session(dashboard.server.url) as ann:
        ann.login(ANN)
        if ann.page("/settings/mailbox").css_first("#mailbox-connected") is None:
            assert ann.post("/settings/mailbox/connect", form(provider)).status_code == 303
        box = ann.page("/settings/mailbox").css_first("#mailbox-connected")
        assert box is not None
        mailbox_id = box.attributes["data-mailbox"]
    with Session(dashboard.server.url) as eve:
        assert eve.login(EVE).status_code == 303
        page = eve.get("/settings/mailbox")
        assert page.status_code == 200 and 'id="mailbox-connected"' not in page.text and ANN_SMTP[0] not in page.text
        for action in ("test", "disconnect"):
            assert eve.post(f"/settings/mailbox/{mailbox_id}/{action}").status_code == 404
    assert dashboard.server.smtp is not None
    with relay_client(dashboard.server.smtp, dashboard.eve) as client:  # Eve's mail never goes through Ann's
        client.sendmail(EVE, ["zed@example.org"], f"From: {EVE}\r\nSubject: Eve's own\r\n\r\nHi\r\n".encode())
    wait_for(lambda: [m for m in dashboard.upstream.received if b"Eve's own" in m.content], "Eve's copy upstream")
    assert not [m for m in provider.submission.received if b"Eve's own" in m.content]
    with Session(dashboard.server.url) as ann:
        ann.login(ANN)
        assert ann.page("/settings/mailbox").css_first("#mailbox-connected") is not None  # still hers
        assert ann.post(f"/settings/mailbox/{mailbox_id}/disconnect").status_code == 303
        assert ann.page("/settings/mailbox").css_first("#mailbox-connected") is None
