"""A user sends only as their own address: MAIL FROM, From:, Sender: (issue #12, item 8), on a real server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailbeacon.relay.replies import S550_NOT_YOURS
from tests.relay.test_relay import html_message
from tests.support.servers import Server, running_server
from tests.support.smtp import Sink, User, add_user, relay_client, running_sink


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("identity") / "data"


@pytest.fixture(scope="module")
def alice(data_dir: Path) -> User:
    add_user(data_dir, "bob@b.example")  # a real user alice must not send as
    return add_user(data_dir, "alice@a.example", "--seat", "sales")


@pytest.fixture(scope="module")
def server(data_dir: Path, sink: Sink, alice: User) -> Iterator[Server]:
    with running_server(data_dir, "--upstream", sink.url) as running:
        yield running


def relay(server: Server) -> tuple[str, int]:
    assert server.smtp is not None
    return server.smtp


def not_yours(address: str) -> tuple[int, bytes]:
    code, text = S550_NOT_YOURS.format(address=address).split(" ", 1)
    return int(code), text.encode()


def nothing_delivered(sink: Sink, subject: str) -> bool:
    time.sleep(0.3)
    return not [r for r in sink.received if f"Subject: {subject}\r\n".encode() in r.content]


@pytest.mark.parametrize("mail_from", ["bob@b.example", "alice@b.example", "alice.x@a.example", "<>"])
def test_mail_from_someone_else_is_refused_naming_the_address(server: Server, alice: User, mail_from: str) -> None:
    with relay_client(relay(server), alice) as client:
        code, text = client.docmd("MAIL", f"FROM:<{mail_from.strip('<>')}>")
        assert (code, text) == not_yours(mail_from.strip("<>"))
        assert client.mail(alice.email)[0] == 250  # the session goes on with the user's own address


@pytest.mark.parametrize("mail_from", ["ALICE@A.EXAMPLE", '"alice"@a.example', "Alice@a.EXAMPLE"])
def test_the_users_own_address_in_another_spelling_is_accepted(server: Server, alice: User, mail_from: str) -> None:
    with relay_client(relay(server), alice) as client:
        assert client.docmd("MAIL", f"FROM:<{mail_from}>")[0] == 250


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("From: Bob <bob@b.example>\r\n", "bob@b.example"),
        ("From: Alice <alice@a.example>, Bob <bob@b.example>\r\n", "bob@b.example"),
        ("From: alice@a.example <bob@b.example>\r\n", "bob@b.example"),  # parsers disagree: refused
        ("From: Alice <alice@a.example>\r\nSender: bob@b.example\r\n", "bob@b.example"),
        ("From: Alice <alice@a.example>\r\nResent-From: bob@b.example\r\n", "bob@b.example"),
        ("From: undisclosed:;\r\n", "undisclosed:;"),
    ],
    ids=["from", "second from address", "ambiguous from", "sender", "resent-from", "no address"],
)
def test_an_author_field_naming_someone_else_is_refused_at_data(
    server: Server, sink: Sink, alice: User, fields: str, named: str
) -> None:
    subject = f"as someone else {named} {len(fields)}"
    message = html_message(subject, sender="REPLACED").replace(b"From: REPLACED\r\n", fields.encode())
    with relay_client(relay(server), alice) as client:
        assert client.mail(alice.email)[0] == 250
        assert client.rcpt("carol@example.net")[0] == 250
        assert client.data(message) == not_yours(named)
    assert nothing_delivered(sink, subject)


def test_the_users_own_from_and_sender_are_delivered(server: Server, sink: Sink, alice: User) -> None:
    subject = "as myself"
    message = html_message(subject, sender='"Alice A." <Alice@A.example>', extra="Sender: alice@a.example\r\n")
    with relay_client(relay(server), alice) as client:
        assert client.sendmail(alice.email, ["carol@example.net"], message) == {}
    sink.wait_for(1)
    assert [r for r in sink.received if b"Subject: as myself\r\n" in r.content]


def test_the_api_sends_from_the_users_own_address(server: Server, sink: Sink, alice: User) -> None:
    answer = httpx.post(f"{server.url}/api/v1/messages", headers={"Authorization": f"Bearer {alice.api_key}"},
                        json={"to": "dave@example.net", "subject": "api identity", "text": "hi"})
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 20
    while not (found := [r for r in sink.received if b"Subject: api identity\r\n" in r.content]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert found[0].mail_from == "alice@a.example" and b"\r\nFrom: alice@a.example\r\n" in b"\r\n" + found[0].content


def test_send_as_refuses_a_file_from_someone_else(server: Server, alice: User, tmp_path: Path) -> None:
    message = tmp_path / "bob.eml"
    message.write_bytes(html_message("cli as bob", sender="bob@b.example", to="carol@example.net"))
    refused = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "send", str(message), "--as", alice.email, "--data",
         str(server.data_dir)], capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 1
    assert "<bob@b.example> is not yours to send as" in refused.stderr
    listed = httpx.get(f"{server.url}/api/v1/messages", headers={"Authorization": f"Bearer {alice.api_key}"})
    assert "cli as bob" not in listed.text
