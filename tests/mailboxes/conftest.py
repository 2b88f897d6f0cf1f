"""The user's provider, for real (issue #14): Dovecot for IMAP and an aiosmtpd submission server with STARTTLS and AUTH.

Both present a certificate signed by a private CA that the tests' processes trust
through SSL_CERT_FILE, as a provider's certificate is trusted through the system's store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailbeacon.store import SentCopyRow, open_store
from tests.store.conftest import postgres_database, store, store_url  # noqa: F401 - the store fixtures, both backends
from tests.support.certs import Certs, make_certs
from tests.support.dovecot import Dovecot, running_dovecot
from tests.support.smtp import Sink, running_sink

ANN = "ann@example.com"
ANN_SMTP = ("ann-login", "smtp: correct horse 1")
ANN_IMAP = "imap battery staple 2"
EVE = "eve@example.com"
EVE_SECRETS = ("eve-login", "eve's own password 3")


@dataclass
class Provider:
    certs: Certs
    dovecot: Dovecot
    submission: Sink
    """The users' SMTP submission server: STARTTLS required, then AUTH."""


@pytest.fixture(scope="package")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="package", autouse=True)
def trusted_ca(certs: Certs) -> Iterator[None]:
    """Every TLS client here and in the servers the tests start trusts the test CA (OpenSSL reads SSL_CERT_FILE)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(certs.ca))
        yield


@pytest.fixture(scope="package")
def provider(certs: Certs) -> Iterator[Provider]:
    with running_dovecot({ANN: ANN_IMAP, EVE_SECRETS[0]: EVE_SECRETS[1]}, certs.trusted.cert,
                         certs.trusted.key) as dovecot:
        with running_sink(tls=(certs.trusted.cert, certs.trusted.key),
                          logins=dict([ANN_SMTP, EVE_SECRETS])) as submission:
            yield Provider(certs, dovecot, submission)


def connect_args(provider: Provider, email: str = ANN, *extra: str, imap_port: int | None = None,
                 imap_security: str = "tls", smtp_port: int | None = None) -> list[str]:
    """`mailbox connect` for Ann (or `email`) at the test provider."""
    login = ANN_SMTP[0] if email == ANN else EVE_SECRETS[0]
    imap_login = ANN if email == ANN else EVE_SECRETS[0]
    return [
        "mailbox", "connect", "--user", email,
        "--smtp-host", "localhost", "--smtp-port", str(smtp_port or provider.submission.port),
        "--smtp-security", "starttls", "--smtp-user", login,
        "--imap-host", "localhost", "--imap-security", imap_security,
        "--imap-port", str(imap_port or (provider.dovecot.imaps_port if imap_security == "tls"
                                         else provider.dovecot.imap_port)),
        "--imap-user", imap_login, "--password-stdin", *extra,
    ]


def passwords(email: str = ANN) -> str:
    return f"{ANN_SMTP[1]}\n{ANN_IMAP}\n" if email == ANN else f"{EVE_SECRETS[1]}\n"


def sent_copy(data: Path, subject: str) -> SentCopyRow | None:
    """What became of the Sent copy of the latest message with this subject (read as a user would, from the store)."""
    with sqlite3.connect(data / "mailbeacon.db") as conn:
        row = conn.execute("SELECT id FROM messages WHERE subject = ? ORDER BY id DESC", (subject,)).fetchone()
    if row is None:
        return None
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        return store.sent_copy_of(int(row[0]))


def sent_status(data: Path, subject: str) -> str | None:
    found = sent_copy(data, subject)
    return found.status if found is not None else None
