"""`POST /api/v1/messages`: a JSON message becomes MIME, then goes the relay's way.

Bcc recipients are envelope recipients only: they never appear in a header.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any


class ComposeError(ValueError):
    """The request cannot become a message; the text says what to fix."""


def compose(payload: Any, sender: str) -> tuple[bytes, list[str]]:
    """(raw message, envelope recipients) for a JSON body.

    >>> raw, rcpts = compose({"to": "a@example.org", "bcc": ["b@example.org"], "subject": "Hi", "html": "<p>x</p>"},
    ...                      "me@example.com")
    >>> rcpts, b"Bcc" in raw, b"To: a@example.org" in raw
    (['a@example.org', 'b@example.org'], False, True)
    """
    if not isinstance(payload, dict):
        raise ComposeError("the body must be a JSON object")
    unknown = set(payload) - {"to", "cc", "bcc", "subject", "html", "text"}
    if unknown:
        raise ComposeError(f"unknown fields: {', '.join(sorted(unknown))}")
    fields = {name: _addresses(payload, name) for name in ("to", "cc", "bcc")}
    recipients = [a for name in ("to", "cc", "bcc") for a in fields[name]]
    if not recipients:
        raise ComposeError("no recipients: give at least one of to, cc, bcc")
    subject, html, text = (payload.get(name) for name in ("subject", "html", "text"))
    for name, value in (("subject", subject), ("html", html), ("text", text)):
        if value is not None and not isinstance(value, str):
            raise ComposeError(f"{name} must be a string")
    if not html and not text:
        raise ComposeError("give html, text or both")
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    for name in ("to", "cc"):
        if fields[name]:
            message[name.capitalize()] = ", ".join(fields[name])
    message["Subject"] = subject or ""
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if text:
        message.set_content(text)
    if html:
        if text:
            message.add_alternative(html, subtype="html")
        else:
            message.set_content(html, subtype="html")
    return message.as_bytes(), recipients


def _addresses(payload: dict[str, Any], name: str) -> list[str]:
    value = payload.get(name) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ComposeError(f"{name} must be an address or a list of addresses")
    found = []
    for raw in value:
        parsed = getaddresses([raw])
        if len(parsed) != 1 or not _valid(parsed[0][1]):
            raise ComposeError(f"{name}: {raw!r} is not an email address")
        found.append(parsed[0][1])
    return found


def _valid(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() or c in "<>,;\"" for c in address):
        return False
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        return False
    return True
