"""A captured copy taken apart as Mailpit shows one (issue #13, item 10): body, headers, attachments.

The HTML and the plain text are the first of each that is not an attachment; every other
leaf part is an attachment, numbered from 1 in the order of the message, and an attached
message (message/rfc822) is one attachment, never opened up. Nothing here interprets the
content: the dashboard shows it as escaped text or serves it as a download.
"""

from __future__ import annotations

import email.policy
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesParser



@dataclass(frozen=True, slots=True)
class Attachment:
    number: int
    """Its place among the copy's attachments, from 1: how its download is named."""
    filename: str
    """As the message names it, or made up from the number and the type."""
    content_type: str
    """As the message declares it: shown, never served."""
    size: int
    """Bytes after transfer decoding: what the download holds."""
    inline: bool
    """Shown inside the HTML (Content-ID or an inline disposition) rather than attached."""


@dataclass(frozen=True, slots=True)
class Anatomy:
    html: str | None
    text: str | None
    headers: list[tuple[str, str]]
    """Every header field in order, its value decoded (RFC 2047) where it can be."""
    attachments: list[Attachment]


def parse_message(data: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def anatomy_of(message: EmailMessage) -> Anatomy:
    html, text = _bodies(message)
    attachments = [
        _describe(number, part)
        for number, part in enumerate((p for p in _leaves(message) if p is not html and p is not text), 1)
    ]
    return Anatomy(
        html=decoded(html) if html is not None else None,
        text=decoded(text) if text is not None else None,
        headers=[(name, _header_text(message, name, value)) for name, value in message.raw_items()],
        attachments=attachments,
    )


def attachment_of(message: EmailMessage, number: int) -> tuple[Attachment, bytes] | None:
    """Attachment `number` and its decoded bytes; None when the copy has no such attachment."""
    html, text = _bodies(message)
    parts = [p for p in _leaves(message) if p is not html and p is not text]
    if not 1 <= number <= len(parts):
        return None
    part = parts[number - 1]
    return _describe(number, part), _content(part)


def count_attachments(message: EmailMessage) -> int:
    html, text = _bodies(message)
    return sum(1 for p in _leaves(message) if p is not html and p is not text)


def decoded(part: Message) -> str:
    """A text part decoded with its charset; an unknown or lying charset gives what can be shown."""
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _leaves(part: Message) -> Iterator[Message]:
    """Every non-multipart part, in order; an attached message is a leaf (its parts are its own)."""
    if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        yield part


def _bodies(message: EmailMessage) -> tuple[Message | None, Message | None]:
    """The first text/html and the first text/plain leaf that are not attachments."""
    found: dict[str, Message] = {}
    for part in _leaves(message):
        kind = part.get_content_type()
        if kind in ("text/html", "text/plain") and kind not in found and not _is_attachment(part):
            found[kind] = part
    return found.get("text/html"), found.get("text/plain")


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or (
        part.get_filename() is not None and part.get_content_disposition() != "inline"
    )


def _describe(number: int, part: Message) -> Attachment:
    kind = part.get_content_type()
    try:
        name = part.get_filename()
    except (ValueError, IndexError, LookupError):  # a parameter the parser cannot decode
        name = None
    if not name:
        extension = ".eml" if kind == "message/rfc822" else mimetypes.guess_extension(kind) or ".bin"
        name = f"part-{number}{extension}"
    inline = part.get_content_disposition() == "inline" or (part.get("Content-ID") is not None and not
                                                            _is_attachment(part))
    return Attachment(number, name, kind, len(_content(part)), inline)


def _content(part: Message) -> bytes:
    """The part's bytes after transfer decoding (an attached message as its own source)."""
    payload = part.get_payload()
    if part.get_content_type() == "message/rfc822" and isinstance(payload, list) and payload:
        inner = payload[0]
        return inner.as_bytes(policy=email.policy.SMTP) if isinstance(inner, Message) else b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _header_text(message: EmailMessage, name: str, raw: str) -> str:
    """A header's value as a person reads it; the raw value where decoding fails (a malformed header)."""
    try:
        return str(message.policy.header_fetch_parse(name, raw))
    except Exception:  # the email package raises assorted errors on hostile headers; show what is there
        return str(raw)
