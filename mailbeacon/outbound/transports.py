"""Where queued copies go: a real SMTP server, or the capture mailbox.

Transports are blocking (smtplib, file I/O); the worker runs them in threads.
The capture mailbox is in capture.py.
Each answers with an `Outcome`: sent, try again later, or bounced for good.
"""

from __future__ import annotations

import enum
import hashlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from mailbeacon.errors import ConfigError


class Result(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    BOUNCED = "bounced"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    reply: str
    """The upstream's words (or ours, for a connection failure), kept on the delivery."""


class Transport(Protocol):
    def send(self, mail_from: str, rcpt_to: list[str], body: bytes, delivery: bytes | None = None) -> Outcome:
        """Hand one copy on; `delivery` is its delivery key (the capture mailbox keeps it: who sent the copy)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Upstream:
    """`smtp://[user:password@]host[:port][?starttls=require|never][&verify=false]`, or `smtps://...`."""

    host: str
    port: int
    implicit_tls: bool
    starttls: str
    """'auto' (when offered), 'require' or 'never'."""
    verify: bool
    username: str | None
    password: str | None
    pin: str | None = None
    """SHA-256 (hex) of the one certificate accepted instead of a verified one (a connected mailbox: issue #14)."""

    @classmethod
    def parse(cls, url: str) -> Upstream:
        """
        >>> Upstream.parse("smtp://u:p%40ss@mail.example:587?starttls=require")
        Upstream(host='mail.example', port=587, implicit_tls=False, starttls='require', verify=True, username='u', password='***')
        >>> Upstream.parse("smtp://u:p%40ss@mail.example").password
        'p@ss'
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(f"--upstream must look like smtp://host:port or smtps://host:port, got {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        starttls = query.get("starttls", "auto")
        if starttls not in ("auto", "require", "never"):
            raise ConfigError(f"starttls= must be auto, require or never, got {starttls!r}")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError as exc:
            raise ConfigError(f"--upstream: {exc}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            implicit_tls=parts.scheme == "smtps",
            starttls=starttls,
            verify=query.get("verify", "true").lower() not in ("false", "0", "no"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __repr__(self) -> str:  # never print the password
        return (f"Upstream(host={self.host!r}, port={self.port}, implicit_tls={self.implicit_tls}, "
                f"starttls={self.starttls!r}, verify={self.verify}, username={self.username!r}, "
                f"password={'***' if self.password else None!r}{f', pin={self.pin!r}' if self.pin else ''})")


class SmtpTransport:
    """Delivers to one upstream server over a connection kept open between copies.

    4xx replies and connection failures are temporary (retry later); 5xx replies
    are permanent (bounced). With several recipients on one copy, the copy
    counts as sent when any of them is accepted; refusals are kept in the reply.
    """

    def __init__(self, upstream: Upstream, timeout: float = 30.0) -> None:
        self.upstream = upstream
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes, delivery: bytes | None = None) -> Outcome:
        for attempt in (1, 2):  # a kept connection may have been closed by the server meanwhile
            try:
                smtp = self._connection()
                options = _mail_options(smtp, mail_from, rcpt_to, body)
                if "SMTPUTF8" not in options:
                    envelope = [ascii_address(a) for a in (mail_from, *rcpt_to)]
                    if None in envelope:
                        return Outcome(Result.BOUNCED, "the upstream does not take non-ASCII addresses (it offers no "
                                       f"SMTPUTF8): {', '.join(a for a in (mail_from, *rcpt_to) if not a.isascii())}")
                    mail_from, rcpt_to = envelope[0] or "", [a for a in envelope[1:] if a]
                refused = smtp.sendmail(mail_from, rcpt_to, body, mail_options=options)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if attempt == 1:
                    continue
                return Outcome(Result.RETRY, f"upstream disconnected: {exc}")
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset()
                return _refusal(exc.recipients)
            except smtplib.SMTPResponseException as exc:
                self._reset()
                return _reply_outcome(exc.smtp_code, exc.smtp_error)
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                return Outcome(Result.RETRY, f"upstream {self.upstream.host}:{self.upstream.port}: {exc}")
            reply = "250 accepted"
            if refused:
                reply += "; refused: " + "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in refused.items())
            return Outcome(Result.SENT, reply)
        raise AssertionError("unreachable")

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = open_smtp(self.upstream, self.timeout)
        return self._smtp

    def _reset(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (OSError, smtplib.SMTPException):
                self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


class CertificateMismatch(ssl.SSLError):
    """The server's certificate is not the one pinned."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "certificate mismatch"


def tls_context(verify: bool = True, pin: str | None = None) -> ssl.SSLContext:
    """The system's trust store; a pinned certificate is checked by its fingerprint instead (`check_pin`)."""
    context = ssl.create_default_context()
    if not verify or pin:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def fingerprint(sock: socket.socket | None) -> str:
    """SHA-256 (hex) of the certificate a TLS peer presented."""
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    if der is None:
        raise CertificateMismatch("the server presented no certificate")
    return hashlib.sha256(der).hexdigest()


def check_pin(sock: socket.socket | None, pin: str | None) -> None:
    if pin is not None and (found := fingerprint(sock)) != pin:
        raise CertificateMismatch(f"the server's certificate (SHA-256 {found}) is not the one trusted ({pin})")


def open_smtp(up: Upstream, timeout: float) -> smtplib.SMTP:
    """Connected, past STARTTLS (or implicit TLS) and AUTH as `up` says; raises what smtplib and ssl raise."""
    context = tls_context(up.verify, up.pin)
    smtp: smtplib.SMTP
    if up.implicit_tls:
        smtp = smtplib.SMTP_SSL(up.host, up.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(up.host, up.port, timeout=timeout)
    try:
        if up.implicit_tls:
            check_pin(smtp.sock, up.pin)
        smtp.ehlo()
        if not up.implicit_tls and up.starttls != "never":
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                check_pin(smtp.sock, up.pin)
                smtp.ehlo()
            elif up.starttls == "require":
                raise smtplib.SMTPNotSupportedError("upstream does not offer STARTTLS, which is required")
        if up.username is not None:
            smtp.login(up.username, up.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _mail_options(smtp: smtplib.SMTP, mail_from: str, rcpt_to: list[str], body: bytes) -> list[str]:
    options = []
    if not body.isascii() and smtp.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    if not (mail_from.isascii() and all(r.isascii() for r in rcpt_to)) and smtp.has_extn("smtputf8"):
        options.append("SMTPUTF8")
    return options


def ascii_address(address: str) -> str | None:
    """The address with its domain in IDNA (`ann@xn--exmple-cua.de`), for an upstream without SMTPUTF8;
    None when the local part itself is not ASCII (no such upstream can take it).

    >>> ascii_address("ann@ex\u00e4mple.de"), ascii_address("\u00e4nn@example.de"), ascii_address("ann@example.de")
    ('ann@xn--exmple-cua.de', None, 'ann@example.de')
    """
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


def _refusal(recipients: dict[str, tuple[int, bytes]]) -> Outcome:
    codes = [code for code, _ in recipients.values()]
    reply = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in recipients.items())
    # Temporary if any refusal is: another try may reach that recipient.
    return Outcome(Result.RETRY if any(400 <= c < 500 for c in codes) else Result.BOUNCED, reply)


def _reply_outcome(code: int, message: bytes | str) -> Outcome:
    reply = f"{code} {_text(message)}"
    if 500 <= code < 600:
        return Outcome(Result.BOUNCED, reply)
    return Outcome(Result.RETRY, reply)


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


