"""The Sent folder gets exactly one copy, also after `kill -9` and a connection dropped mid-APPEND (issue #14).

Ann's IMAP goes through a proxy in front of the real Dovecot (plaintext over loopback,
so the proxy sees the APPEND) that refuses connections, cuts an APPEND short, or lets
one through and loses Dovecot's answer, as a flaky provider or network would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mailboxes.conftest import ANN, Provider, connect_args, passwords, sent_copy, sent_status
from tests.support.dashboard import add_user, cli, wait_for
from tests.support.servers import Server, running_server, start_server
from tests.support.smtp import User, relay_client, running_sink
from tests.support.tcpproxy import FaultyProxy, faulty_proxy

SERVE = ("--retry-after", "0.2", "--outbound-lease", "3")


def message(subject: str) -> bytes:
    return (f"From: {ANN}\r\nTo: kim@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\nContent-Type: text/html\r\n\r\n"
            '<p>See <a href="https://example.com/">the offer</a></p>\r\n').encode()


@dataclass
class Setup:
    data: Path
    ann: User
    proxy: FaultyProxy


@pytest.fixture()
def setup(provider: Provider, tmp_path: Path) -> Iterator[Setup]:
    data = tmp_path / "data"
    created = add_user(data, ANN, "--seat", "sales")
    with faulty_proxy(("127.0.0.1", provider.dovecot.imap_port)) as proxy:
        cli(*connect_args(provider, ANN, imap_port=proxy.port, imap_security="none")[:-1] + [
            "--imap-host", "127.0.0.1", "--password-stdin", "--data", str(data)], input=passwords())
        yield Setup(data, User(ANN, created["api_key"], created["smtp_password"]), proxy)


def send(server: Server, ann: User, subject: str) -> None:
    assert server.smtp is not None
    with relay_client(server.smtp, ann) as client:
        client.sendmail(ANN, ["kim@example.org"], message(subject))


def filed(provider: Provider, subject: str) -> list[bytes]:
    message_id = f"<{subject.replace(' ', '.')}@example.com>".encode()
    return [m for m in provider.dovecot.messages(ANN) if message_id in m]


def test_kill_9_between_the_smtp_accept_and_the_append_files_it_once_after_restart(
    provider: Provider, setup: Setup
) -> None:
    setup.proxy.arm("refuse")  # the provider's IMAP is down while the mail goes out
    with running_sink() as upstream:
        server = start_server(setup.data, "--upstream", upstream.url, *SERVE)
        try:
            send(server, setup.ann, "Killed before filing")
            wait_for(lambda: [m for m in provider.submission.received if b"Killed before filing" in m.content],
                     "the copy at Ann's SMTP server")
            wait_for(lambda: (row := sent_copy(setup.data, "Killed before filing")) and row.attempts >= 1,
                     "a failed APPEND attempt")
        finally:
            server.kill()  # kill -9: accepted upstream, not filed
        assert filed(provider, "Killed before filing") == []
        setup.proxy.arm(None)
        with running_server(setup.data, "--upstream", upstream.url, *SERVE):
            wait_for(lambda: sent_status(setup.data, "Killed before filing") == "appended", "the Sent copy")
    assert len(filed(provider, "Killed before filing")) == 1
    assert len([m for m in provider.submission.received if b"Killed before filing" in m.content]) == 1


def test_a_connection_dropped_mid_append_is_retried_and_files_one_copy(provider: Provider, setup: Setup) -> None:
    with running_sink() as upstream, running_server(setup.data, "--upstream", upstream.url, *SERVE) as server:
        setup.proxy.arm("cut_request")  # the literal is cut short: Dovecot stores nothing
        send(server, setup.ann, "Cut mid append")
        wait_for(lambda: sent_status(setup.data, "Cut mid append") == "appended", "the Sent copy")
        setup.proxy.arm("lose_reply")  # Dovecot stores it, its answer is lost: the retry must find it
        send(server, setup.ann, "Answer lost")
        wait_for(lambda: sent_status(setup.data, "Answer lost") == "found", "the Sent copy found on retry")
    assert setup.proxy.faults_done == ["cut_request", "lose_reply"]
    assert len(filed(provider, "Cut mid append")) == 1
    assert len(filed(provider, "Answer lost")) == 1
    row = sent_copy(setup.data, "Cut mid append")
    assert row is not None and row.attempts >= 1 and row.folder == "Sent"
