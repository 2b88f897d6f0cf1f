"""What a user connects (issue #14): SMTP submission and IMAP, each a host, port, security and login.

Values are checked here, before anything is tried: a port in range, a host name that is
one, plaintext (`none`) only to a loopback address, a pin that is a SHA-256 fingerprint.
Secrets travel beside the settings in `Secrets`, whose repr never shows them.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field

from mailbeacon.errors import MailbeaconError


class MailboxError(MailbeaconError):
    """A mailbox setting is unusable, or the user has no mailbox; the text says what to change."""


class Security(enum.StrEnum):
    STARTTLS = "starttls"
    """Plaintext first, then STARTTLS (RFC 3207 for SMTP, RFC 9051 §6.2.1 for IMAP), which must succeed."""
    TLS = "tls"
    """TLS from the first byte (RFC 8314: ports 465 and 993)."""
    NONE = "none"
    """No encryption: only to this machine (a local relay or Dovecot)."""


class SentCopy(enum.StrEnum):
    AUTO = "auto"
    """Append unless the provider files sent mail itself (Gmail, Outlook.com, Office 365): providers.py."""
    ALWAYS = "always"
    NEVER = "never"


DEFAULT_PORTS = {
    "smtp": {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25},
    "imap": {Security.STARTTLS: 143, Security.TLS: 993, Security.NONE: 143},
}
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server of the mailbox: where it is, how to talk to it, who logs in."""

    kind: str
    """smtp or imap."""
    host: str
    port: int
    security: Security
    username: str
    pin: str | None = None
    """SHA-256 (64 hex digits) of a certificate the user trusts although it does not verify."""

    @property
    def label(self) -> str:
        return f"{self.kind.upper()} {self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Secrets:
    smtp: str = field(repr=False)
    imap: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    smtp: Endpoint
    imap: Endpoint
    sent_folder: str | None = None
    """A folder name to append to; None: the one flagged \\Sent (RFC 6154), else a common name."""
    sent_copy: SentCopy = SentCopy.AUTO


def is_loopback(host: str) -> bool:
    """
    >>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback("localhost"), is_loopback("mail.example.com")
    (True, True, True, False)
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normal_pin(text: str) -> str:
    """A SHA-256 fingerprint as 64 lower-case hex digits, from any common spelling (colons, spaces, `sha256:`).

    >>> normal_pin("SHA256:" + "AB:" * 31 + "AB") == "ab" * 32
    True
    """
    cleaned = re.sub(r"[\s:]", "", text.strip().lower().removeprefix("sha256:").removeprefix("sha-256:"))
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        raise MailboxError(f"a certificate fingerprint is 64 hex digits (SHA-256), got {text!r}")
    return cleaned


def spelled_pin(pin: str) -> str:
    """The way browsers and `openssl x509 -fingerprint -sha256` show it: AB:CD:...

    >>> spelled_pin("abcd" + "0" * 60)[:11]
    'AB:CD:00:00'
    """
    return ":".join(pin[i:i + 2] for i in range(0, len(pin), 2)).upper()


def endpoint(
    kind: str, host: str, port: int | None, security: str, username: str, pin: str | None = None,
) -> Endpoint:
    """A checked Endpoint; MailboxError says what is wrong."""
    name = kind.upper()
    try:
        chosen = Security(security.lower())
    except ValueError:
        raise MailboxError(f"{name} security must be starttls, tls or none, got {security!r}") from None
    host = host.strip()
    if not host or not (_HOST.match(host) or _is_ip(host)):
        raise MailboxError(f"{name} host {host!r} is not a host name or an IP address")
    if port is None:
        port = DEFAULT_PORTS[kind][chosen]
    if not 0 < port < 65536:
        raise MailboxError(f"{name} port must be 1-65535, got {port}")
    if chosen is Security.NONE and not is_loopback(host):
        raise MailboxError(f"{name} without TLS is allowed only to this machine (127.0.0.1, ::1, localhost), "
                           f"not to {host}: the password would cross the network in clear")
    if not username or any(c in username for c in "\r\n\0"):
        raise MailboxError(f"{name} needs a username (usually the email address)")
    return Endpoint(kind, host, port, chosen, username, normal_pin(pin) if pin else None)


def sent_copy_mode(text: str) -> SentCopy:
    try:
        return SentCopy(text.lower())
    except ValueError:
        raise MailboxError(f"sent copy must be auto, always or never, got {text!r}") from None


def check_secrets(secrets: Secrets) -> None:
    for name, value in (("SMTP", secrets.smtp), ("IMAP", secrets.imap)):
        if not value:
            raise MailboxError(f"{name} needs a password (or an app password)")
        if any(c in value for c in "\r\n\0"):
            raise MailboxError(f"the {name} password has a line break or NUL in it: was more than one line read?")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
