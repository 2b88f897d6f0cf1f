"""A user's mail goes out through their own mailbox and lands once, untracked, in their Sent folder (issue #14).

A real `mailbeacon serve` with a server-wide upstream; Ann has connected her mailbox at the
test provider (Dovecot and the submission server), Bob has not.
"""

from __future__ import annotations

import email
import email.policy
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.mailboxes.conftest import ANN, ANN_IMAP, ANN_SMTP, Provider, connect_args, passwords, sent_status
from tests.support.dashboard import add_user, cli, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Received, Sink, User, relay_client, running_sink

BOB = "bob@example.com"


def message(subject: str, *, to: str = "Carol <carol@example.org>", cc: str | None = None,
            message_id: bool = True) -> bytes:
    return (
        f"From: Ann <{ANN}>\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "") + f"Subject: {subject}\r\n"
        + (f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n" if message_id else "")
        + "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<html><body><p>Our <a href="https://example.com/pricing">pricing</a>.</p></body></html>\r\n'
    ).encode()


class World:
    def __init__(self, server: Server, upstream: Sink, provider: Provider, users: dict[str, User]) -> None:
        self.server, self.upstream, self.provider, self.users = server, upstream, provider, users

    def relay(self, sender: str, raw: bytes, rcpts: list[str]) -> None:
        assert self.server.smtp is not None
        with relay_client(self.server.smtp, self.users[sender]) as client:
            client.sendmail(sender, rcpts, raw)

    def sent_folder(self, message_id: str) -> list[bytes]:
        return [m for m in self.provider.dovecot.messages(ANN) if message_id.encode() in m]

    def submitted(self, subject: str, count: int) -> list[Received]:
        return wait_for(lambda: r if len(r := [m for m in self.provider.submission.received
                                               if subject.encode() in m.content]) >= count else None,
                        f"{count} copies of {subject!r} at Ann's submission server")


@pytest.fixture(scope="module")
def world(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("sending") / "data"
    users = {}
    for address in (ANN, BOB):
        created = add_user(data, address, "--seat", "sales")
        users[address] = User(address, created["api_key"], created["smtp_password"])
    cli(*connect_args(provider), "--data", str(data), input=passwords())
    with running_sink() as upstream, running_server(data, "--upstream", upstream.url, "--retry-after", "0.3") as server:
        yield World(server, upstream, provider, users)


def test_relay_mail_of_a_user_with_a_mailbox_goes_through_their_smtp_server_with_their_login(world: World) -> None:
    world.relay(ANN, message("Pricing for Carol"), ["carol@example.org"])
    [copy] = world.submitted("Pricing for Carol", 1)
    assert copy.login == ANN_SMTP[0]  # Ann's own credentials at Ann's own server
    assert copy.mail_from == ANN and copy.rcpt_tos == ["carol@example.org"]
    assert b"/o/" in copy.content and b"/c/" in copy.content  # tracked as any relayed copy
    assert not [m for m in world.upstream.received if b"Pricing for Carol" in m.content]


def test_the_sent_folder_holds_exactly_one_untracked_copy_of_a_message_to_three(world: World) -> None:
    raw = message("Offer for three", to="Carol <carol@example.org>, dave@example.org", cc="erin@example.org")
    world.relay(ANN, raw, ["carol@example.org", "dave@example.org", "erin@example.org"])
    assert len(world.submitted("Offer for three", 3)) == 3
    [filed] = wait_for(lambda: world.sent_folder("<Offer.for.three@example.com>"), "the Sent copy")
    wait_for(lambda: sent_status(world.server.data_dir, "Offer for three") == "appended", "the Sent copy recorded")
    assert len(world.sent_folder("<Offer.for.three@example.com>")) == 1
    assert b"/o/" not in filed and b"/c/" not in filed and b"https://example.com/pricing" in filed
    original, kept = (email.message_from_bytes(m, policy=email.policy.default) for m in (raw, filed))
    for name in ("From", "To", "Cc", "Subject", "Message-ID"):
        assert kept[name] == original[name]
    assert filed.endswith(raw.split(b"\r\n\r\n", 1)[1])  # the body as Ann wrote it


def test_the_api_and_the_send_command_go_through_the_mailbox_too(world: World) -> None:
    answer = httpx.post(f"{world.server.url}/api/v1/messages", timeout=10,
                        headers={"Authorization": f"Bearer {world.users[ANN].api_key}"},
                        json={"to": "frank@example.org", "subject": "Through the API", "html": "<p>Hi</p>"})
    assert answer.status_code == 202, answer.text
    path = world.server.data_dir.parent / "cli.eml"
    path.write_bytes(message("From the command line", to="gina@example.org"))
    sent = subprocess.run([sys.executable, "-m", "mailbeacon", "send", str(path), "--as", ANN, "--data",
                           str(world.server.data_dir)], capture_output=True, text=True)
    assert sent.returncode == 0, sent.stderr
    for subject in ("Through the API", "From the command line"):
        [copy] = world.submitted(subject, 1)
        assert copy.login == ANN_SMTP[0]
        wait_for(lambda: sent_status(world.server.data_dir, subject) == "appended", f"the Sent copy of {subject!r}")


def test_a_message_without_message_id_gets_one_in_its_sent_copy_only(world: World) -> None:
    world.relay(ANN, message("No id here", message_id=False), ["hal@example.org"])
    [copy] = world.submitted("No id here", 1)
    assert b"Message-ID" not in copy.content.split(b"\r\n\r\n")[0]  # the copy sent keeps its bytes
    wait_for(lambda: sent_status(world.server.data_dir, "No id here") == "appended", "the Sent copy")
    filed = [m for m in world.provider.dovecot.messages(ANN) if b"No id here" in m]
    assert len(filed) == 1 and b"Message-ID: <" in filed[0]


def test_a_user_without_a_mailbox_uses_the_servers_upstream(world: World) -> None:
    world.relay(BOB, message("Bob's note").replace(f"Ann <{ANN}>".encode(), BOB.encode()), ["ivy@example.org"])
    [copy] = wait_for(lambda: [m for m in world.upstream.received if b"Bob's note" in m.content], "Bob's copy")
    assert copy.login is None
    assert not [m for m in world.provider.submission.received if b"Bob's note" in m.content]


def test_no_secret_appears_in_the_log_the_api_or_mailbox_show(world: World) -> None:
    world.relay(ANN, message("Secret check"), ["jo@example.org"])
    world.submitted("Secret check", 1)
    shown = cli("mailbox", "show", "--user", ANN, "--json", "--data", str(world.server.data_dir))
    with sqlite3.connect(world.server.data_dir / "mailbeacon.db") as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT m.id FROM messages m JOIN users u ON u.id = m.user_id WHERE u.email = ?", (ANN,))]
    assert ids
    details = "".join(httpx.get(f"{world.server.url}/api/v1/messages/{i}", timeout=10,
                                headers={"Authorization": f"Bearer {world.users[ANN].api_key}"}).text for i in ids)
    for secret in (ANN_SMTP[1], ANN_IMAP):
        assert secret not in world.server.output()
        assert secret not in shown and secret not in details
        assert secret not in world.provider.dovecot.messages(ANN)[0].decode(errors="replace")
