"""Is this an email address we can send to? Syntax only: no DNS, an import must not wait on the network.

email-validator decides (RFC 5321/5322 syntax, IDNA, special-use domains such as
.test or .local); its domain check is two thirds of its cost and a list has few
distinct domains, so each domain is judged once. Plain ASCII local parts, the
common case, are checked by the same dot-atom rule without a library call.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from mailbeacon.errors import MailbeaconError

# RFC 5322 §3.2.3 dot-atom: atext runs joined by single dots.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class InvalidAddress(MailbeaconError):
    """Not an address mail can be sent to; the message says why, in words a person reads."""


class AddressChecker:
    """Checks and normalises addresses (lower-cased), remembering each domain's verdict.

    >>> check = AddressChecker()
    >>> check("  Bob.Smith@Example.COM ")
    'bob.smith@example.com'
    >>> check("bob@localhost")
    Traceback (most recent call last):
    mailbeacon.campaigns.addresses.InvalidAddress: The part after the @-sign is not valid. It should have a period.
    """

    def __init__(self) -> None:
        self._domains: dict[str, tuple[bool, str]] = {}
        """domain -> (valid, normalised domain or why not)."""

    def __call__(self, raw: str) -> str:
        address = raw.strip()
        local, at, domain = address.rpartition("@")
        if at and len(address) <= 254 and len(local) <= 64 and _DOT_ATOM.fullmatch(local):
            verdict = self._domains.get(domain)
            if verdict is None:
                verdict = self._domains[domain] = _check_domain(domain)
            valid, text = verdict
            if not valid:
                raise InvalidAddress(text)  # a new exception each time: one raised twice keeps growing its traceback
            return f"{local}@{text}".lower()
        try:  # quoted or international local parts, missing @ ...: the library alone decides
            return validate_email(address, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise InvalidAddress(str(exc)) from None


def _check_domain(domain: str) -> tuple[bool, str]:
    try:
        return True, validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError as exc:
        return False, str(exc)
