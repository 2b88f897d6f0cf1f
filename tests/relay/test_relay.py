"""The SMTP relay against a real aiosmtpd upstream, with real smtplib clients."""

from __future__ import annotations

import base64
import re
import smtplib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailbeacon.instrument import header_end
from mailbeacon.store import DeliveryRow, Store, open_store
from tests.support.servers import Server, running_server
from tests.support.smtp import Received, Sink, User, add_user, relay_client, running_sink

TOKEN = re.compile(rb"/(?:o|c)/([A-Za-z0-9_-]{20,})")


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("relay") / "data"


@pytest.fixture(scope="module")
def sales(data_dir: Path) -> User:
    return add_user(data_dir, "bob@example.com", "--seat", "sales")


@pytest.fixture(scope="module")
def basic(data_dir: Path) -> User:
    return add_user(data_dir, "bea@example.com", "--seat", "basic")


@pytest.fixture(scope="module")
def server(data_dir: Path, sink: Sink, sales: User, basic: User) -> Iterator[Server]:
    with running_server(data_dir, "--upstream", sink.url, "--retry-after", "0.3", "--public-metrics") as running:
        yield running


@pytest.fixture()
def store(server: Server) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}")
    yield opened
    opened.close()


def relay(server: Server) -> tuple[str, int]:
    assert server.smtp is not None
    return server.smtp


def html_message(
    subject: str, *, to: str = "Alice <alice@example.org>", extra: str = "", sender: str = "Bob <bob@example.com>"
) -> bytes:
    """An HTML message with a tracked link and an untracked one, From `sender` (the user's own address)."""
    return (
        f"From: {sender}\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <" + subject.replace(" ", ".") + "@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        f"{extra}"
        "Content-Type: text/html; charset=utf-8\r\n"
        "\r\n"
        '<html><body><p>Hello, here is <a href="https://example.com/pricing?plan=pro">the pricing</a>\r\n'
        'and <a href="https://www.example.com/">www.example.com</a>.</p></body></html>\r\n'
    ).encode()


def send(server: Server, user: User, recipients: list[str], message: bytes, **options: list[str]) -> None:
    with relay_client(relay(server), user) as client:
        refused = client.sendmail(user.email, recipients, message, **options)  # type: ignore[arg-type]
    assert refused == {}


def copies_for(sink: Sink, subject: str, count: int) -> list[Received]:
    marker = f"Subject: {subject}\r\n".encode()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [r for r in sink.received if marker in r.content]
        if len(found) >= count:
            return sorted(found, key=lambda r: r.rcpt_tos)
        time.sleep(0.05)
    raise AssertionError(f"{len(found)} copies of {subject!r} reached the upstream, expected {count}")


def deliveries(store: Store, subject: str, timeout: float = 10.0) -> list[DeliveryRow]:
    """The message's deliveries once none is still queued: the upstream may hold a copy a moment before
    the worker's batch records its outcome."""
    message_ids = {e for e in _message_ids(store, subject)}
    assert len(message_ids) == 1, message_ids
    message_id = message_ids.pop()
    deadline = time.monotonic() + timeout
    rows = store.deliveries_of(message_id)
    while any(r.status == "queued" for r in rows) and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = store.deliveries_of(message_id)
    return rows


def _message_ids(store: Store, subject: str) -> list[int]:
    path = str(store).split("sqlite:///", 1)[1].rstrip(">")
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM messages WHERE subject = ?", (subject,))]


def without_tokens(content: bytes) -> bytes:
    return TOKEN.sub(b"/TOKEN", content)


# --- never an open relay -------------------------------------------------------------------------


@pytest.mark.parametrize("recipient", ["someone@example.org", "postmaster@localhost", "bob@example.com"])
def test_unauthenticated_mail_is_refused_with_530(server: Server, sink: Sink, recipient: str) -> None:
    before = len(sink.received)
    with relay_client(relay(server)) as client:  # TLS, but no AUTH
        code, reply = client.mail("bob@example.com")
        assert code == 530, reply
        code, _ = client.rcpt(recipient)
        assert code in (503, 530)
    with smtplib.SMTP(*relay(server), timeout=10) as plain:  # no TLS either
        plain.ehlo()
        assert plain.mail("bob@example.com")[0] == 530
    time.sleep(0.3)
    assert len(sink.received) == before


def test_auth_over_plain_text_is_refused(server: Server, sales: User) -> None:
    with smtplib.SMTP(*relay(server), timeout=10) as plain:
        plain.ehlo()
        assert not plain.has_extn("auth")  # not even offered before STARTTLS
        credentials = base64.b64encode(f"\0{sales.email}\0{sales.smtp_password}".encode()).decode()
        code, reply = plain.docmd("AUTH", f"PLAIN {credentials}")
        assert code == 538, reply


def test_a_wrong_password_is_refused(server: Server, sales: User) -> None:
    with relay_client(relay(server)) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(sales.email, sales.smtp_password + "x")
        assert refused.value.smtp_code == 535
        assert client.mail("bob@example.com")[0] == 530


def test_messages_over_the_size_limit_get_552(tmp_path: Path, sink: Sink) -> None:
    user = add_user(tmp_path / "data", "big@example.com")
    with running_server(tmp_path / "data", "--upstream", sink.url, "--max-message-size", "20000") as small:
        assert small.smtp is not None
        body = html_message("too big", sender=user.email) + (b"x" * 78 + b"\r\n") * 400
        with relay_client(small.smtp, user) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as announced:  # smtplib announces SIZE= in MAIL
                client.sendmail(user.email, ["alice@example.org"], body)
            assert announced.value.smtp_code == 552
            client.rset()
            assert client.mail(user.email)[0] == 250  # a client that does not announce the size
            assert client.rcpt("alice@example.org")[0] == 250
            code, reply = client.data(body)
        assert code == 552 and b"Too much mail data" in reply


# --- one copy per recipient ----------------------------------------------------------------------


def test_each_recipient_gets_a_copy_with_its_own_tokens_and_the_same_headers(
    server: Server, sink: Sink, sales: User, store: Store
) -> None:
    subject = "per recipient"
    message = html_message(
        subject,
        to="Alice <alice@example.org>, carol@example.net",
        extra="Cc: dave@example.com\r\nBcc: eve@example.com, mallory@example.com\r\n",
    )
    recipients = ["alice@example.org", "carol@example.net", "dave@example.com", "eve@example.com"]
    send(server, sales, recipients, message)
    copies = copies_for(sink, subject, 4)
    assert [c.rcpt_tos for c in copies] == [[r] for r in sorted(recipients)]
    original_headers = message[: header_end(message)]
    expected_headers = original_headers.replace(b"Bcc: eve@example.com, mallory@example.com\r\n", b"")
    for copy in copies:
        assert copy.content[: header_end(copy.content)] == expected_headers
        assert b"eve@example.com" not in copy.content and b"mallory" not in copy.content
    tokens = [set(TOKEN.findall(c.content)) for c in copies]
    assert all(len(t) == 2 for t in tokens)  # the pixel and the pricing link; www.example.com stays
    assert len(set.union(*tokens)) == 8, "every copy has tokens of its own"
    assert len({without_tokens(c.content) for c in copies}) == 1, "copies differ only in their tokens"
    rows = deliveries(store, subject)
    assert sorted(r.recipient for r in rows) == sorted(recipients)
    assert {(r.opens_tracked, r.clicks_tracked, r.status) for r in rows} == {(True, True, "sent")}
    assert all(r.accepted_at is not None and r.upstream_reply and r.upstream_reply.startswith("250") for r in rows)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert int(re.search(r'mailbeacon_outbound_total\{result="sent"\} (\d+)', metrics).group(1)) >= 4  # type: ignore[union-attr]


def test_each_copy_attributes_its_open_to_its_recipient(server: Server, sink: Sink, sales: User) -> None:
    subject = "who opened"
    send(server, sales, ["alice@example.org", "carol@example.net"], html_message(subject))
    carol = next(c for c in copies_for(sink, subject, 2) if c.rcpt_tos == ["carol@example.net"])
    pixel = re.search(rb'src="(http://[^"]+/o/[^"]+\.gif)"', carol.content)
    assert pixel is not None
    assert httpx.get(pixel.group(1).decode()).status_code == 200
    events = httpx.get(
        f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {sales.api_key}"}, params={"limit": 1000}
    ).json()["events"]
    assert [e["recipient"] for e in events if e["type"] == "open"][-1] == "carol@example.net"


def test_the_senders_own_copy_gets_no_tracking(server: Server, sink: Sink, sales: User, store: Store) -> None:
    subject = "own copy"
    message = html_message(subject)
    send(server, sales, ["alice@example.org", "bob@example.com"], message)
    own = next(c for c in copies_for(sink, subject, 2) if c.rcpt_tos == ["bob@example.com"])
    assert own.content == message
    row = next(r for r in deliveries(store, subject) if r.recipient == "bob@example.com")
    assert (row.opens_tracked, row.clicks_tracked, row.untracked_reason) == (False, False, "the sender's own copy")


def test_without_splitting_one_copy_shares_one_pixel(tmp_path: Path, sink: Sink) -> None:
    user = add_user(tmp_path / "data", "shared@example.com", "--seat", "sales")
    with running_server(tmp_path / "data", "--upstream", sink.url, "--no-split") as shared:
        assert shared.smtp is not None
        subject = "shared pixel"
        with relay_client(shared.smtp, user) as client:
            client.sendmail(user.email, ["alice@example.org", "carol@example.net"], html_message(subject, sender=user.email))
        (copy,) = copies_for(sink, subject, 1)
        assert copy.rcpt_tos == ["alice@example.org", "carol@example.net"]
        with open_store(f"sqlite:///{shared.data_dir / 'mailbeacon.db'}") as store:
            (row,) = deliveries(store, subject)
        assert row.shared and row.recipient == "alice@example.org, carol@example.net" and row.opens_tracked


# --- what gets tracked ---------------------------------------------------------------------------


def test_a_basic_seat_gets_opens_but_not_clicks(server: Server, sink: Sink, basic: User, store: Store) -> None:
    subject = "basic seat"
    send(server, basic, ["alice@example.org"], html_message(subject, sender=basic.email))
    (copy,) = copies_for(sink, subject, 1)
    assert b"/o/" in copy.content and b'href="https://example.com/pricing?plan=pro"' in copy.content
    ((row),) = deliveries(store, subject)
    assert (row.opens_tracked, row.clicks_tracked) == (True, False)


@pytest.mark.parametrize(
    ("value", "opens", "clicks"), [("none", False, False), ("opens", True, False), ("ALL", True, True)]
)
def test_the_track_header_overrides_per_message_and_is_removed(
    server: Server, sink: Sink, sales: User, value: str, opens: bool, clicks: bool
) -> None:
    subject = f"header {value}"
    message = html_message(subject, extra=f"X-Mailbeacon-Track: {value}\r\n")
    send(server, sales, ["alice@example.org"], message)
    (copy,) = copies_for(sink, subject, 1)
    assert b"X-Mailbeacon-Track" not in copy.content
    assert (b"/o/" in copy.content) is opens
    assert (b"/c/" in copy.content) is clicks
    if not opens:
        assert copy.content == message.replace(f"X-Mailbeacon-Track: {value}\r\n".encode(), b"")


def test_do_not_track_recipients_get_an_untouched_copy(server: Server, sink: Sink, sales: User, store: Store) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "mailbeacon", "dnt", "add", "Private@Example.org", "--global", "--data", str(server.data_dir)],
        check=True,
        capture_output=True,
    )
    subject = "dnt"
    message = html_message(subject)
    send(server, sales, ["private@example.org", "alice@example.org"], message)
    private, alice = sorted(copies_for(sink, subject, 2), key=lambda c: c.rcpt_tos != ["private@example.org"])
    assert private.content == message
    assert b"/o/" in alice.content
    row = next(r for r in deliveries(store, subject) if r.recipient == "private@example.org")
    assert row.untracked_reason == "recipient is on the do-not-track list"


def test_plain_text_passes_unchanged_and_says_why(server: Server, sink: Sink, sales: User, store: Store) -> None:
    subject = "plain text"
    message = (
        "From: bob@example.com\r\nTo: alice@example.org\r\nSubject: plain text\r\n\r\n"
        "See https://example.com/pricing\r\n.leading dot survives\r\n"
    ).encode()
    send(server, sales, ["alice@example.org"], message)
    (copy,) = copies_for(sink, subject, 1)
    assert copy.content == message
    (row,) = deliveries(store, subject)
    assert (row.opens_tracked, row.untracked_reason) == (False, "opens not trackable: plain text")


def test_signed_mail_passes_unchanged(server: Server, sink: Sink, sales: User, store: Store) -> None:
    subject = "signed"
    message = (
        "From: bob@example.com\r\nTo: alice@example.org\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/html\r\n\r\n<p><a href=\"https://example.com/x\">x</a></p>\r\n"
        "--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--b--\r\n"
    ).encode()
    send(server, sales, ["alice@example.org"], message)
    (copy,) = copies_for(sink, subject, 1)
    assert copy.content == message
    (row,) = deliveries(store, subject)
    assert row.untracked_reason == "not trackable: signed"


def test_8bitmime_and_smtputf8_survive(server: Server, sink: Sink, sales: User) -> None:
    subject = "Grüße"
    message = (
        "From: Bob <bob@example.com>\r\nTo: José <josé@exämple.org>\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        '<p>Schöne Grüße, <a href="https://example.com/straße">hier</a> — 東京</p>\r\n'
    ).encode()
    with relay_client(relay(server), sales) as client:
        client.sendmail(sales.email, ["josé@exämple.org"], message, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    (copy,) = copies_for(sink, subject, 1)
    assert copy.rcpt_tos == ["josé@exämple.org"]
    assert "SMTPUTF8" in copy.mail_options
    assert copy.content[: header_end(copy.content)] == message[: header_end(message)]
    assert "Schöne Grüße".encode() in copy.content and "東京".encode() in copy.content
    assert b"/c/" in copy.content


# --- a message accepted is a message delivered ----------------------------------------------------


def test_upstream_down_queues_then_delivers_when_it_returns(tmp_path: Path) -> None:
    user = add_user(tmp_path / "data", "later@example.com")
    sink = Sink()  # its port is chosen, nothing listens there yet
    with running_server(tmp_path / "data", "--upstream", sink.url, "--retry-after", "0.2") as server:
        assert server.smtp is not None
        with relay_client(server.smtp, user) as client:
            assert client.sendmail(user.email, ["alice@example.org"], html_message("queued while down", sender=user.email)) == {}
        time.sleep(1.0)  # a few failed attempts
        with open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}") as store:
            (row,) = deliveries(store, "queued while down")
            assert row.status == "queued" and row.attempts >= 1 and row.last_error
        sink.start()
        try:
            (copy,) = sink.wait_for(1, timeout=30)
            assert b"Subject: queued while down" in copy.content
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}") as store:
                    (row,) = deliveries(store, "queued while down")
                if row.status == "sent":
                    break
                time.sleep(0.1)
            assert row.status == "sent" and row.accepted_at is not None
        finally:
            sink.stop()


def test_a_crash_between_accept_and_delivery_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    user = add_user(data, "crash@example.com")
    sink = Sink()  # down: the copies stay queued, retried every 0.2 s
    options = ("--upstream", sink.url, "--retry-after", "0.2", "--outbound-lease", "2")
    with running_server(data, *options) as server:
        assert server.smtp is not None
        with relay_client(server.smtp, user) as client:
            for n in range(5):
                client.sendmail(user.email, [f"r{n}@example.org"], html_message(f"crash {n}", sender=user.email))
        server.kill()  # kill -9, maybe in the middle of an attempt: the copies were accepted (250), never delivered
    sink.start()
    try:
        with running_server(data, *options):
            received = sink.wait_for(5, timeout=30)
            time.sleep(0.5)
            assert sorted(r.rcpt_tos[0] for r in sink.received) == [f"r{n}@example.org" for n in range(5)]
            assert len(received) == 5
    finally:
        sink.stop()


def test_a_store_failure_answers_451_and_the_retry_is_accepted(tmp_path: Path, sink: Sink) -> None:
    data = tmp_path / "data"
    user = add_user(data, "locked@example.com")
    with running_server(data, "--upstream", sink.url) as server:
        assert server.smtp is not None
        locker = sqlite3.connect(data / "mailbeacon.db", isolation_level=None)
        try:
            with relay_client(server.smtp, user) as client:
                locker.execute("BEGIN EXCLUSIVE")
                with pytest.raises(smtplib.SMTPDataError) as refused:
                    client.sendmail(user.email, ["alice@example.org"], html_message("store locked", sender=user.email))
                assert refused.value.smtp_code == 451
                locker.execute("ROLLBACK")
                assert client.sendmail(user.email, ["alice@example.org"], html_message("store locked", sender=user.email)) == {}
        finally:
            locker.close()
        assert len(copies_for(sink, "store locked", 1)) == 1


def test_permanent_refusal_bounces_and_temporary_refusal_retries(tmp_path: Path) -> None:
    data = tmp_path / "data"
    user = add_user(data, "refused@example.com")
    attempts: dict[str, int] = {}

    def reply(envelope: object) -> str:
        (rcpt,) = envelope.rcpt_tos  # type: ignore[attr-defined]
        attempts[rcpt] = attempts.get(rcpt, 0) + 1
        if rcpt.startswith("gone"):
            return "550 5.1.1 No such user"
        if rcpt.startswith("busy") and attempts[rcpt] < 3:
            return "451 4.3.0 Try again"
        return "250 OK"

    with running_sink() as sink, running_server(data, "--upstream", sink.url, "--retry-after", "0.2") as server:
        sink.handler.reply = reply
        assert server.smtp is not None
        with relay_client(server.smtp, user) as client:
            client.sendmail(user.email, ["gone@example.org", "busy@example.org"], html_message("refusals", sender=user.email))
        sink.wait_for(1, timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
                rows = {r.recipient: r for r in deliveries(store, "refusals")}
            if {r.status for r in rows.values()} == {"sent", "bounced"}:
                break
            time.sleep(0.1)
        assert rows["gone@example.org"].status == "bounced"
        assert "550" in (rows["gone@example.org"].upstream_reply or "")
        assert rows["busy@example.org"].status == "sent" and attempts["busy@example.org"] == 3
        assert attempts["gone@example.org"] == 1


# --- sending without a mail client -----------------------------------------------------------------


def test_post_messages_sends_through_the_same_pipeline(server: Server, sink: Sink, sales: User, store: Store) -> None:
    payload = {
        "to": ["Alice <alice@example.org>"],
        "cc": "carol@example.net",
        "bcc": ["secret@example.org"],
        "subject": "from the API",
        "text": "Hi, the pricing: https://example.com/pricing",
        "html": '<p>Hi, <a href="https://example.com/pricing">the pricing</a></p>',
    }
    answer = httpx.post(
        f"{server.url}/api/v1/messages", json=payload, headers={"Authorization": f"Bearer {sales.api_key}"}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert sorted(c["recipient"] for c in body["copies"]) == ["alice@example.org", "carol@example.net",
                                                              "secret@example.org"]
    copies = copies_for(sink, "from the API", 3)
    for copy in copies:
        assert b"secret@example.org" not in copy.content
        assert b"multipart/alternative" in copy.content and b"/o/" in copy.content and b"/c/" in copy.content
        assert b"To: alice@example.org" in copy.content and b"Cc: carol@example.net" in copy.content
    assert {r.message_id for r in deliveries(store, "from the API")} == {body["message_id"]}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"subject": "x", "html": "<p>x</p>"}, "no recipients"),
        ({"to": "not an address", "html": "<p>x</p>"}, "is not an email address"),
        ({"to": "a@example.org"}, "give html, text or both"),
        ({"to": "a@example.org", "html": "<p>x</p>", "attachments": []}, "unknown fields: attachments"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
def test_post_messages_refuses_what_it_cannot_send(server: Server, sales: User, payload: object, error: str) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/messages", json=payload, headers={"Authorization": f"Bearer {sales.api_key}"}
    )
    assert answer.status_code == 400 and error in answer.json()["error"]


def test_post_messages_needs_an_api_key(server: Server, sales: User) -> None:
    payload = {"to": "a@example.org", "html": "<p>x</p>"}
    assert httpx.post(f"{server.url}/api/v1/messages", json=payload).status_code == 401
    wrong = {"Authorization": f"Bearer {sales.api_key}x"}
    assert httpx.post(f"{server.url}/api/v1/messages", json=payload, headers=wrong).status_code == 401
    not_json = httpx.post(
        f"{server.url}/api/v1/messages", content=b"{",
        headers={"Authorization": f"Bearer {sales.api_key}", "content-type": "application/json"},
    )
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]


def test_a_reply_quoting_a_tracked_message_carries_only_live_tracking_of_its_own(
    server: Server, sink: Sink, sales: User
) -> None:
    send(server, sales, ["alice@example.org"], html_message("first mail"))
    (first,) = copies_for(sink, "first mail", 1)
    quoted = first.content.split(b"\r\n\r\n", 1)[1]
    reply = html_message("Re: first mail").replace(b"</body>", b"<blockquote>" + quoted + b"</blockquote></body>")
    send(server, sales, ["alice@example.org", "bob@example.com"], reply)
    alice, own = sorted(copies_for(sink, "Re: first mail", 2), key=lambda c: c.rcpt_tos != ["alice@example.org"])
    old_tokens = set(TOKEN.findall(first.content))
    assert old_tokens and not old_tokens & set(TOKEN.findall(alice.content))
    assert alice.content.count(b"/o/") == 1  # her new pixel, not the quoted one
    assert b"/o/" not in own.content and b"/c/" not in own.content  # the Sent-folder copy tracks no one
    assert own.content.count(b'href="https://example.com/pricing?plan=pro"') == 2  # quoted link unwrapped


def test_plain_text_auth_only_when_asked_for_and_only_on_loopback(tmp_path: Path, sink: Sink) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    user = add_user(data, "plain@example.com")
    with running_server(data, "--upstream", sink.url, "--smtp-plain-auth") as plain:
        assert plain.smtp is not None
        with smtplib.SMTP(*plain.smtp, timeout=10) as client:
            client.login(user.email, user.smtp_password)  # no STARTTLS
            assert client.sendmail(user.email, ["alice@example.org"], html_message("plain auth", sender=user.email)) == {}
        assert len(copies_for(sink, "plain auth", 1)) == 1  # while the server runs: its worker delivers
    refused = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "serve", "--data", str(data), "--http", "127.0.0.1:0",
         "--smtp", "0.0.0.0:0", "--smtp-plain-auth"],
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 1
    assert "AUTH without TLS is allowed only on a loopback address" in refused.stderr


def test_delivers_to_an_upstream_that_requires_starttls_and_auth(tmp_path: Path) -> None:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from mailbeacon.relay import self_signed
    from tests.support.smtp import SinkHandler, free_port

    cert, key = self_signed(tmp_path / "upstream")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"relay", b"s3cr#t")
        return AuthResult(success=ok)

    handler = SinkHandler()
    port = free_port()
    upstream = Controller(
        handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        auth_required=True, authenticator=authenticator,
    )
    upstream.start()
    try:
        data = tmp_path / "data"
        user = add_user(data, "tls@example.com")
        url = f"smtp://relay:s3cr%23t@127.0.0.1:{port}?starttls=require&verify=false"
        with running_server(data, "--upstream", url) as server:
            assert server.smtp is not None
            with relay_client(server.smtp, user) as client:
                client.sendmail(user.email, ["alice@example.org"], html_message("over tls upstream", sender=user.email))
            deadline = time.monotonic() + 20
            while not handler.received and time.monotonic() < deadline:
                time.sleep(0.05)
        assert [r.rcpt_tos for r in handler.received] == [["alice@example.org"]]
        assert b"Subject: over tls upstream" in handler.received[0].content
    finally:
        upstream.stop()
        upstream.loop.close()
