"""Whom a user may send as: their own address, until a later issue adds aliases (issue #12, item 8).

`addresses_of` is the one answer to "which addresses are this user's"; the envelope sender
and every author field of a message (From, Sender, RFC 5322 §3.6.2; Resent-From and
Resent-Sender, §3.6.6) must be among them. Domains compare case-insensitively (and as
IDNA, RFC 5890), local parts case-insensitively after unquoting ("bob" is bob, RFC 5321
§4.1.2): mail systems treat them so in practice, and a case variant of one's own address
claims no one else's. Nothing more is folded: bob+news and b.o.b are not bob.
"""

from __future__ import annotations

import email.policy
from collections.abc import Iterable
from email.errors import HeaderParseError
from email.utils import getaddresses
from typing import Protocol

from mailbeacon.errors import MailbeaconError
from mailbeacon.instrument import field_values

AUTHOR_FIELDS = ("From", "Sender", "Resent-From", "Resent-Sender")
NULL_SENDER = ("", "<>")


class HasEmail(Protocol):
    @property
    def email(self) -> str: ...


class NotYours(MailbeaconError):
    """The message names a sender the user may not send as."""

    def __init__(self, address: str, field: str) -> None:
        super().__init__(f"<{address}> is not yours to send as ({field})")
        self.address = address
        self.field = field


def addresses_of(user: HasEmail) -> frozenset[str]:
    """The user's own addresses, normalised; aliases will join here."""
    return frozenset({normalised(user.email)})


def normalised(address: str) -> str:
    """The form two addresses are compared in.

    >>> normalised('"Bob"@Example.COM'), normalised("josé@EXÄMPLE.org") == normalised("JOSÉ@xn--exmple-cua.org")
    ('bob@example.com', True)
    """
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().lower()
    if len(local) >= 2 and local[0] == local[-1] == '"':
        local = local[1:-1].replace("\\\\", "\0").replace("\\", "").replace("\0", "\\")
    domain = domain.rstrip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    return f"{local.lower()}@{domain}"


def check_envelope_sender(user: HasEmail, mail_from: str) -> None:
    """Raise NotYours unless MAIL FROM is the user's.

    The null reverse-path `<>` is refused too: it is for notifications (bounces, RFC 5321
    §4.5.5), never for a person's tracked mail, whose bounces must come back to them.
    """
    if mail_from in NULL_SENDER or normalised(mail_from) not in addresses_of(user):
        raise NotYours(mail_from if mail_from not in NULL_SENDER else "", "MAIL FROM")


def check_author_fields(user: HasEmail, raw: bytes) -> None:
    """Raise NotYours unless every address of every author field of `raw` is the user's.

    A value is read by both of the standard library's parsers, and an address either finds
    must be the user's, so a value they read differently (`alice@a.example <bob@b.example>`)
    cannot pass with the address a mail client would show. A field with no address is refused.
    """
    own = addresses_of(user)
    for name in AUTHOR_FIELDS:
        for value in field_values(raw, name):
            found = _addresses(value)
            if not found:
                raise NotYours(value.strip(), f"{name}:")
            for address in found:
                if normalised(address) not in own:
                    raise NotYours(address, f"{name}:")


def _addresses(value: str) -> list[str]:
    found: list[str] = []
    try:
        parsed: Iterable[str] = (a.addr_spec for a in email.policy.default.header_factory("From", value).addresses)
        found.extend(parsed)
    except (HeaderParseError, ValueError, IndexError, TypeError):
        found.append(value.strip())  # unreadable: it cannot be the user's
    found.extend(address for _, address in getaddresses([value]) if address)
    return found
