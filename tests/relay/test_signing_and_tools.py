"""DKIM after instrumenting, DKIM-signed submissions, swaks as a client, and `mailbeacon send`."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailbeacon.store import open_store
from tests.relay.test_relay import copies_for, deliveries, html_message
from tests.support.servers import Server, running_server
from tests.support.smtp import Sink, User, add_user, relay_client, running_sink


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, User]:
    data = tmp_path_factory.mktemp("signing") / "data"
    return data, add_user(data, "bob@example.com", "--seat", "sales")


@pytest.fixture(scope="module")
def server(user: tuple[Path, User], sink: Sink, dkim_key: tuple[Path, bytes]) -> Iterator[Server]:
    data, _ = user
    options = ("--upstream", sink.url, "--dkim-key", str(dkim_key[0]), "--dkim-selector", "mb2026")
    with running_server(data, *options) as running:
        yield running


def dns(record: bytes) -> object:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"mb2026._domainkey.example.com." else None

    return lookup


def test_every_copy_is_dkim_signed_after_instrumenting(
    server: Server, user: tuple[Path, User], sink: Sink, dkim_key: tuple[Path, bytes]
) -> None:
    assert server.smtp is not None
    with relay_client(server.smtp, user[1]) as client:
        client.sendmail("bob@example.com", ["alice@example.org", "carol@example.net"], html_message("signed copies"))
    copies = copies_for(sink, "signed copies", 2)
    for copy in copies:
        assert copy.content.startswith(b"DKIM-Signature: ") and b"/o/" in copy.content
        assert dkim.verify(copy.content, dnsfunc=dns(dkim_key[1]))
        tampered = copy.content.replace(b"the pricing", b"the Pricing")
        assert not dkim.verify(tampered, dnsfunc=dns(dkim_key[1]))


def test_mail_signed_by_the_sender_is_not_instrumented(server: Server, user: tuple[Path, User], sink: Sink) -> None:
    assert server.smtp is not None
    message = dkim.sign(html_message("already signed"), b"theirs", b"example.com", _other_key())
    message += html_message("already signed")
    with relay_client(server.smtp, user[1]) as client:
        client.sendmail("bob@example.com", ["alice@example.org"], message)
    (copy,) = copies_for(sink, "already signed", 1)
    assert copy.content.endswith(message) and b"/o/" not in copy.content and b"/c/" not in copy.content
    with open_store(f"sqlite:///{server.data_dir / 'mailbeacon.db'}") as store:
        (row,) = deliveries(store, "already signed")
    assert row.untracked_reason == "not trackable: already DKIM-signed by the sender"


def _other_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_swaks_sends_through_the_relay(server: Server, user: tuple[Path, User], sink: Sink, tmp_path: Path) -> None:
    swaks = shutil.which("swaks")
    if swaks is None:
        reason = "swaks is not installed (Debian package swaks; .ci/run installs it)"
        if os.environ.get("MAILBEACON_REQUIRE_SWAKS"):
            pytest.fail(reason + "; MAILBEACON_REQUIRE_SWAKS is set (CI), so this is a failure")
        pytest.skip(reason)
    assert server.smtp is not None
    message = tmp_path / "mail.eml"
    message.write_bytes(html_message("from swaks", to="dave@example.com"))
    host, port = server.smtp
    done = subprocess.run(
        [swaks, "--server", host, "--port", str(port), "--tls", "--auth", "LOGIN",
         "--auth-user", user[1].email, "--auth-password", user[1].smtp_password,
         "--from", "bob@example.com", "--to", "dave@example.com", "--data", str(message)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "250 2.0.0 OK: queued as" in done.stdout
    (copy,) = copies_for(sink, "from swaks", 1)
    assert copy.rcpt_tos == ["dave@example.com"] and b"/o/" in copy.content


def test_mailbeacon_send_queues_for_the_running_server(
    server: Server, user: tuple[Path, User], sink: Sink, tmp_path: Path
) -> None:
    message = tmp_path / "mail.eml"
    lf_only = html_message("from the command line", to="erin@example.org").replace(b"\r\n", b"\n")
    message.write_bytes(lf_only.replace(b"Subject:", b"Bcc: hidden@example.org\nSubject:"))
    done = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "send", str(message), "--as", "bob@example.com",
         "--data", str(server.data_dir), "--base-url", server.url],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "erin@example.org: opens, clicks" in done.stdout and "hidden@example.org: opens" in done.stdout
    copies = copies_for(sink, "from the command line", 2)
    assert sorted(c.rcpt_tos[0] for c in copies) == ["erin@example.org", "hidden@example.org"]
    assert all(b"Bcc" not in c.content and b"\r\n" in c.content and b"\n\n" not in c.content for c in copies)
    assert all(server.url.encode() + b"/o/" in c.content for c in copies)


def test_mailbeacon_send_refuses_an_unknown_user(server: Server, tmp_path: Path) -> None:
    message = tmp_path / "mail.eml"
    message.write_bytes(html_message("nobody"))
    done = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "send", str(message), "--as", "nobody@example.com",
         "--data", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1 and "no user 'nobody@example.com'" in done.stderr
