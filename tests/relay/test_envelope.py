"""What the relay takes in MAIL FROM and RCPT TO, in raw SMTP commands, and 1,000 clients at once (issue #12, item 10).

The server runs with --smtp-plain-auth (loopback only), so raw clients can AUTH without TLS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbeacon.relay.replies import (
    S452_TOO_MANY_RECIPIENTS,
    S501_BAD_ADDRESS,
    S501_BAD_SENDER,
    S553_NEEDS_SMTPUTF8,
)
from tests.support.servers import Server, running_server
from tests.support.smtp import RawSmtp, Sink, User, add_user, running_sink


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envelope") / "data"


@pytest.fixture(scope="module")
def ann(data_dir: Path) -> User:
    return add_user(data_dir, "ann@example.com")


@pytest.fixture(scope="module")
def jose(data_dir: Path) -> User:
    return add_user(data_dir, "josé@exämple.org")


@pytest.fixture(scope="module")
def server(data_dir: Path, sink: Sink, ann: User, jose: User) -> Iterator[Server]:
    with running_server(data_dir, "--upstream", sink.url, "--smtp-plain-auth") as running:
        yield running


def session(server: Server, user: User) -> RawSmtp:
    assert server.smtp is not None
    client = RawSmtp(server.smtp)
    assert client.command("EHLO client.example")[0] == 250
    assert client.plain_auth(user.email, user.smtp_password) == 235
    return client


def reply(named: str) -> tuple[int, bytes]:
    code, text = named.split(" ", 1)
    return int(code), text.encode()


def arrived(sink: Sink, subject: str) -> list[list[str]]:
    """The envelope recipients of each copy of `subject` the upstream received, once one has."""
    deadline = time.monotonic() + 20
    while not (found := [r.rcpt_tos for r in sink.received if f"Subject: {subject}\r\n".encode() in r.content]):
        assert time.monotonic() < deadline, f"no copy of {subject!r} reached the upstream"
        time.sleep(0.05)
    return found


def message(subject: str, sender: str) -> bytes:
    return f"From: {sender}\r\nTo: carol@example.net\r\nSubject: {subject}\r\n\r\nHello\r\n.\r\n".encode()


@pytest.mark.parametrize("bad", [b"\x00", b"\x01", b"\x08", b"\x7f", b"\xff", b"\xe2\x82"],
                         ids=["NUL", "SOH", "BS", "DEL", "invalid UTF-8", "truncated UTF-8"])
def test_a_control_character_or_bad_utf8_in_rcpt_is_refused_and_never_forwarded(
    server: Server, sink: Sink, ann: User, bad: bytes
) -> None:
    subject = f"rcpt {bad!r}"
    with session(server, ann) as client:
        assert client.command("MAIL FROM:<ann@example.com> SMTPUTF8")[0] == 250
        assert client.command(b"RCPT TO:<eve" + bad + b"@example.org>") == reply(S501_BAD_ADDRESS)
        assert client.command("RCPT TO:<carol@example.net>")[0] == 250
        assert client.command("DATA")[0] == 354
        assert client.command(message(subject, ann.email).removesuffix(b"\r\n"))[0] == 250  # not 451
    assert arrived(sink, subject) == [["carol@example.net"]]


@pytest.mark.parametrize("bad", [b"\x00", b"\x1b", b"\xff"], ids=["NUL", "ESC", "invalid UTF-8"])
def test_a_control_character_or_bad_utf8_in_mail_from_is_refused(server: Server, ann: User, bad: bytes) -> None:
    with session(server, ann) as client:
        assert client.command(b"MAIL FROM:<ann" + bad + b"@example.com> SMTPUTF8") == reply(S501_BAD_SENDER)
        assert client.command("MAIL FROM:<ann@example.com>")[0] == 250


def test_utf8_addresses_need_smtputf8(server: Server, sink: Sink, ann: User, jose: User) -> None:
    with session(server, ann) as client:
        assert client.command("MAIL FROM:<ann@example.com>")[0] == 250
        assert client.command("RCPT TO:<zoë@example.net>") == reply(S553_NEEDS_SMTPUTF8)  # RFC 6531 §3.5
    with session(server, jose) as client:
        assert client.command("MAIL FROM:<josé@exämple.org>") == reply(S553_NEEDS_SMTPUTF8)
        assert client.command("MAIL FROM:<josé@exämple.org> SMTPUTF8")[0] == 250
        assert client.command("RCPT TO:<zoë@example.net>")[0] == 250
        assert client.command("DATA")[0] == 354
        assert client.command(message("utf8 with smtputf8", "josé@exämple.org").removesuffix(b"\r\n"))[0] == 250
    assert arrived(sink, "utf8 with smtputf8") == [["zoë@example.net"]]


def test_recipients_past_the_limit_get_452(server: Server, sink: Sink, ann: User) -> None:
    """--max-recipients defaults to 100; RFC 5321 §4.5.3.1.8: the client sends to the others later."""
    with session(server, ann) as client:
        assert client.command("MAIL FROM:<ann@example.com>")[0] == 250
        for n in range(100):
            assert client.command(f"RCPT TO:<r{n}@example.org>")[0] == 250
        assert client.command("RCPT TO:<r100@example.org>") == reply(S452_TOO_MANY_RECIPIENTS)
        assert client.command("DATA")[0] == 354
        assert client.command(message("a hundred", ann.email).removesuffix(b"\r\n"))[:1] == (250,)
    copies = arrived(sink, "a hundred")
    deadline = time.monotonic() + 30
    while len(copies) < 100 and time.monotonic() < deadline:
        time.sleep(0.1)
        copies = arrived(sink, "a hundred")
    assert sorted(r for c in copies for r in c) == sorted(f"r{n}@example.org" for n in range(100))


def test_a_thousand_clients_connecting_at_once_all_get_the_greeting(server: Server) -> None:
    """Before the fix the relay listened with asyncio's default backlog of 100, and connections timed out."""
    assert server.smtp is not None
    host, port = server.smtp

    async def greeted() -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (TimeoutError, OSError):
            return False
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            return line.startswith(b"220 ")
        except (TimeoutError, OSError):
            return False
        finally:
            writer.close()

    async def everyone() -> list[bool]:
        return await asyncio.gather(*(greeted() for _ in range(1000)))

    started = time.monotonic()
    results = asyncio.run(everyone())
    assert results.count(False) == 0, f"{results.count(False)} of 1000 connections got no greeting"
    assert time.monotonic() - started < 30
