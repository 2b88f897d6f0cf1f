"""Connecting tests both logins first (issue #14) and says in words what failed: DNS, connection, TLS, AUTH, folder.

A certificate that does not verify is refused; the answer carries its SHA-256
fingerprint, which the user may pin (`--trust-smtp-cert`, `--trust-imap-cert`, the
dashboard's field) once they know it is their server's. Nothing here logs a secret,
and no message quotes one.
"""

from __future__ import annotations

import enum
import smtplib
import socket
import ssl
from dataclasses import dataclass

import imapclient

from mailbeacon.mailboxes import imap
from mailbeacon.mailboxes.settings import Endpoint, Security, spelled_pin
from mailbeacon.outbound.transports import CertificateMismatch, Upstream, fingerprint, open_smtp, tls_context

TIMEOUT = 10.0
"""Seconds for each connection and each reply: a firewall that drops packets answers within it."""


class Problem(enum.StrEnum):
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    TLS_UNTRUSTED = "tls_untrusted"
    TLS_PIN = "tls_pin_mismatch"
    TLS = "tls"
    NO_STARTTLS = "no_starttls"
    AUTH = "auth"
    NO_AUTH = "no_auth"
    NO_SENT_FOLDER = "no_sent_folder"
    PROTOCOL = "protocol"


@dataclass(frozen=True, slots=True)
class Check:
    """One side's test: ok, or what went wrong in words a user acts on."""

    label: str
    """SMTP host:port or IMAP host:port."""
    problem: Problem | None = None
    detail: str = ""
    fingerprint: str | None = None
    """For TLS_UNTRUSTED: the SHA-256 of the certificate presented, to pin if it is the user's server's."""
    sent_folder: str | None = None
    """For a good IMAP login: the Sent folder found."""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def text(self) -> str:
        if self.ok:
            extra = f", Sent folder {self.sent_folder!r}" if self.sent_folder else ""
            return f"{self.label}: logged in{extra}"
        return f"{self.label}: {self.detail}"


def upstream_of(where: Endpoint, secret: str) -> Upstream:
    """The outbound transport's view of the SMTP side."""
    return Upstream(
        host=where.host, port=where.port, implicit_tls=where.security is Security.TLS,
        starttls="require" if where.security is Security.STARTTLS else "never", verify=True,
        username=where.username, password=secret, pin=where.pin,
    )


def check_smtp(where: Endpoint, secret: str, timeout: float = TIMEOUT) -> Check:
    try:
        smtp = open_smtp(upstream_of(where, secret), timeout)
    except smtplib.SMTPAuthenticationError as exc:
        return _failed(where, Problem.AUTH, f"the server refused the username and password ({_reply(exc)})")
    except smtplib.SMTPNotSupportedError as exc:
        if "STARTTLS" in str(exc):
            return _failed(where, Problem.NO_STARTTLS, "the server does not offer STARTTLS; choose tls or another port")
        return _failed(where, Problem.NO_AUTH, "the server offers no AUTH here: is it a submission port (587, 465)?")
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib's word for a greeting that never came
            return _failed(where, Problem.TIMEOUT, f"connected, but no answer within {timeout:g} s: is this an SMTP port?")
        return _failed(where, Problem.PROTOCOL, "the server closed the connection: is this the right port and security?")
    except smtplib.SMTPException as exc:
        return _failed(where, Problem.PROTOCOL, f"the server answered unexpectedly: {exc}")
    except (OSError, ssl.SSLError) as exc:
        return _network(where, exc, timeout)
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
    return Check(where.label)


def check_imap(where: Endpoint, secret: str, sent_folder: str | None, timeout: float = TIMEOUT) -> Check:
    try:
        client = imap.open_imap(where, secret, timeout)
    except imap.LoginError as exc:
        return _failed(where, Problem.AUTH, f"the server refused the username and password ({_text(exc)})")
    except imap.IMAPClientError as exc:
        if "STARTTLS" in str(exc).upper():
            return _failed(where, Problem.NO_STARTTLS, "the server does not offer STARTTLS; choose tls or another port")
        return _failed(where, Problem.PROTOCOL, f"the server answered unexpectedly: {_text(exc)}")
    except (OSError, ssl.SSLError) as exc:
        return _network(where, exc, timeout)
    try:
        found = imap.find_sent_folder(client, sent_folder)
    except (OSError, imap.IMAPClientError) as exc:
        return _failed(where, Problem.PROTOCOL, f"could not list the folders: {_text(exc)}")
    finally:
        imap.close(client)
    if found is None:
        wanted = (f"no folder named {sent_folder!r}" if sent_folder
                  else "no folder flagged \\Sent (RFC 6154) and none with a usual name (Sent, Sent Items, ...)")
        return _failed(where, Problem.NO_SENT_FOLDER, f"logged in, but {wanted}: name the Sent folder")
    return Check(where.label, sent_folder=found)


def _network(where: Endpoint, exc: BaseException, timeout: float) -> Check:
    if isinstance(exc, socket.gaierror):
        return _failed(where, Problem.DNS, f"the host name {where.host!r} does not resolve ({exc.strerror})")
    if isinstance(exc, ConnectionRefusedError):
        return _failed(where, Problem.REFUSED, "connection refused: nothing listens on that port")
    if isinstance(exc, TimeoutError | socket.timeout):
        return _failed(where, Problem.TIMEOUT, f"no answer within {timeout:g} s (a firewall, or the wrong port)")
    if isinstance(exc, CertificateMismatch):
        return _failed(where, Problem.TLS_PIN, f"{exc}: connect again if the server's certificate changed")
    if isinstance(exc, ssl.SSLCertVerificationError):
        presented = presented_fingerprint(where)
        detail = f"the certificate does not verify ({exc.verify_message}); refused"
        if presented:
            detail += (f". Its SHA-256 fingerprint is {spelled_pin(presented)}: only if you know that this is your "
                       "server's certificate, trust it by giving this fingerprint")
        return _failed(where, Problem.TLS_UNTRUSTED, detail, presented)
    if isinstance(exc, ssl.SSLError):
        return _failed(where, Problem.TLS, f"TLS failed: {exc.reason or exc}")
    if isinstance(exc, ConnectionError | EOFError):
        return _failed(where, Problem.PROTOCOL, "the server closed the connection: is this the right port and security?")
    return _failed(where, Problem.UNREACHABLE, f"cannot connect: {getattr(exc, 'strerror', None) or exc}")


def presented_fingerprint(where: Endpoint, timeout: float = TIMEOUT) -> str | None:
    """The SHA-256 of the certificate the server shows, read on a connection that verifies nothing and logs in to nothing."""
    unverified = tls_context(verify=False)
    try:
        if where.kind == "smtp":
            smtp: smtplib.SMTP
            if where.security is Security.TLS:
                smtp = smtplib.SMTP_SSL(where.host, where.port, timeout=timeout, context=unverified)
            else:
                smtp = smtplib.SMTP(where.host, where.port, timeout=timeout)
                smtp.ehlo()
                smtp.starttls(context=unverified)
            try:
                return fingerprint(smtp.sock)
            finally:
                smtp.close()
        client = imapclient.IMAPClient(where.host, port=where.port, ssl=where.security is Security.TLS,
                                            ssl_context=unverified, timeout=timeout)
        try:
            if where.security is Security.STARTTLS:
                client.starttls(unverified)
            return fingerprint(client.socket())
        finally:
            imap.close(client)
    except (OSError, smtplib.SMTPException, imap.IMAPClientError):
        return None


def _failed(where: Endpoint, problem: Problem, detail: str, presented: str | None = None) -> Check:
    return Check(where.label, problem, detail, presented)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text.strip() or type(exc).__name__
