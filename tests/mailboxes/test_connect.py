"""`mailbeacon mailbox connect|show|test|disconnect` against a real Dovecot and a real submission server (issue #14)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from mailbeacon.cli import main
from mailbeacon.store import open_store
from tests.mailboxes.conftest import ANN, ANN_IMAP, ANN_SMTP, Provider, connect_args, passwords
from tests.support import databases
from tests.support.dashboard import add_user
from tests.support.dovecot import running_dovecot
from tests.support.smtp import free_port, running_sink


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    add_user(path, ANN, password=None)
    return path


def test_connect_with_the_right_logins_saves_the_mailbox_and_shows_no_secret(provider: Provider, data: Path) -> None:
    connected = run(*connect_args(provider), "--data", str(data), input=passwords())
    assert connected.exit_code == 0, connected.output
    assert "connected" in connected.output and "'Sent'" in connected.output
    shown = run("mailbox", "show", "--user", ANN, "--json", "--data", str(data))
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    assert view["smtp"] == {"host": "localhost", "port": provider.submission.port, "security": "starttls",
                            "username": ANN_SMTP[0], "trusted_certificate": None}
    assert view["imap"]["port"] == provider.dovecot.imaps_port and view["sent_folder_found"] == "Sent"
    assert view["appends_sent_copy"] is True
    human = run("mailbox", "show", "--user", ANN, "--data", str(data)).output
    tested = run("mailbox", "test", "--user", ANN, "--data", str(data))
    assert tested.exit_code == 0 and tested.output.count("logged in") == 2, tested.output
    for secret in (ANN_SMTP[1], ANN_IMAP):
        for output in (connected.output, shown.output, human, tested.output):
            assert secret not in output
        database = (data / "mailbeacon.db").read_bytes() + b"".join(
            p.read_bytes() for p in data.glob("mailbeacon.db-*"))
        assert secret.encode() not in database  # sealed at rest
    key_file = data / "mailbox.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_wrong_smtp_password_is_an_auth_failure_and_saves_nothing(provider: Provider, data: Path) -> None:
    failed = run(*connect_args(provider), "--data", str(data), input=f"wrong\n{ANN_IMAP}\n")
    assert failed.exit_code == 1
    assert "nothing saved" in failed.output
    assert f"SMTP localhost:{provider.submission.port}: the server refused the username and password" in failed.output
    assert "IMAP" in failed.output and "logged in" in failed.output  # the other side is reported too
    assert "wrong" not in failed.output.replace("is wrong", "")
    assert "no mailbox connected" in run("mailbox", "show", "--user", ANN, "--data", str(data)).output


def test_a_wrong_imap_password_is_an_auth_failure(provider: Provider, data: Path) -> None:
    failed = run(*connect_args(provider), "--data", str(data), input=f"{ANN_SMTP[1]}\nnot the password\n")
    assert failed.exit_code == 1
    assert f"IMAP localhost:{provider.dovecot.imaps_port}: the server refused the username and password" in failed.output
    assert "not the password" not in failed.output


def test_a_certificate_that_does_not_verify_is_refused_until_its_fingerprint_is_trusted(
    provider: Provider, data: Path
) -> None:
    untrusted = provider.certs.untrusted
    with running_sink(tls=(untrusted.cert, untrusted.key), logins=dict([ANN_SMTP])) as smtp, \
            running_dovecot({ANN: ANN_IMAP}, untrusted.cert, untrusted.key) as dovecot:
        args = connect_args(provider, smtp_port=smtp.port, imap_port=dovecot.imap_port, imap_security="starttls")
        refused = run(*args, "--data", str(data), input=passwords())
        assert refused.exit_code == 1
        spelled = ":".join(untrusted.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
        for side, port in (("SMTP", smtp.port), ("IMAP", dovecot.imap_port)):
            assert f"{side} localhost:{port}: the certificate does not verify" in refused.output
        assert refused.output.count(spelled) == 2  # what to pin, shown for each side
        trusted = run(*args, "--trust-smtp-cert", spelled, "--trust-imap-cert", untrusted.fingerprint,
                      "--data", str(data), input=passwords())
        assert trusted.exit_code == 0, trusted.output
        assert f"trusting certificate {untrusted.fingerprint}" in trusted.output
        assert run("mailbox", "test", "--user", ANN, "--data", str(data)).exit_code == 0
    # A pin is that certificate and no other: the CA-signed one of the real servers is refused with it.
    other = run(*connect_args(provider), "--trust-smtp-cert", untrusted.fingerprint, "--data", str(data),
                input=passwords())
    assert other.exit_code == 1 and "is not the one trusted" in other.output


def test_unreachable_hosts_say_why(provider: Provider, data: Path) -> None:
    closed = free_port()
    refused = run("mailbox", "connect", "--user", ANN, "--smtp-host", "127.0.0.1", "--smtp-port", str(closed),
                  "--imap-host", "mail.nowhere.invalid", "--password-stdin", "--data", str(data), input="x\n")
    assert refused.exit_code == 1
    assert f"SMTP 127.0.0.1:{closed}: connection refused" in refused.output
    assert "IMAP mail.nowhere.invalid:993: the host name 'mail.nowhere.invalid' does not resolve" in refused.output


def test_a_named_sent_folder_that_does_not_exist_is_a_clear_failure(provider: Provider, data: Path) -> None:
    failed = run(*connect_args(provider, ANN, "--sent-folder", "Gesendet"), "--data", str(data), input=passwords())
    assert failed.exit_code == 1
    assert "logged in, but no folder named 'Gesendet'" in failed.output
    never = run(*connect_args(provider, ANN, "--sent-folder", "Gesendet", "--sent-copy", "never"), "--data",
                str(data), input=passwords())
    assert never.exit_code == 0, never.output  # nothing is filed there: its absence does not matter


def test_plaintext_is_refused_to_another_machine(data: Path) -> None:
    refused = run("mailbox", "connect", "--user", ANN, "--smtp-host", "smtp.example.com", "--smtp-security", "none",
                  "--imap-host", "imap.example.com", "--password-stdin", "--data", str(data), input="x\n")
    assert refused.exit_code == 2
    assert "SMTP without TLS is allowed only to this machine" in refused.output


def test_rotating_the_key_reseals_every_secret(provider: Provider, data: Path) -> None:
    assert run(*connect_args(provider), "--data", str(data), input=passwords()).exit_code == 0
    before = (data / "mailbox.key").read_bytes()
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        sealed = store.mailboxes()[0].smtp.sealed_secret
    rotated = run("mailbox", "rotate-key", "--data", str(data))
    assert rotated.exit_code == 0 and "1 mailboxes resealed" in rotated.output
    after = (data / "mailbox.key").read_bytes()
    assert after != before and len(after.split()) == 1
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        assert store.mailboxes()[0].smtp.sealed_secret != sealed
    assert run("mailbox", "test", "--user", ANN, "--data", str(data)).exit_code == 0  # the new key opens them


def test_disconnect_forgets_the_mailbox(provider: Provider, data: Path) -> None:
    assert run(*connect_args(provider), "--data", str(data), input=passwords()).exit_code == 0
    gone = run("mailbox", "disconnect", "--user", ANN, "--data", str(data))
    assert gone.exit_code == 0 and "disconnected" in gone.output
    assert run("mailbox", "show", "--user", ANN, "--data", str(data)).exit_code == 1
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        assert store.mailboxes() == []


def test_secrets_are_sealed_in_postgresql_too(provider: Provider, tmp_path: Path) -> None:
    with databases.throwaway_postgres() as url:
        data = tmp_path / "pg-data"
        assert run("user", "add", ANN, "--data", str(data), "--db", url).exit_code == 0
        connected = run(*connect_args(provider), "--data", str(data), "--db", url, input=passwords())
        assert connected.exit_code == 0, connected.output
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT * FROM mailboxes").fetchone()
        assert row is not None
        text = " ".join(str(value) for value in row)
        assert ANN_SMTP[0] in text and ANN_SMTP[1] not in text and ANN_IMAP not in text
