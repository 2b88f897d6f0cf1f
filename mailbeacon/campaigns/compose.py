"""One contact's copy of a campaign as RFC 5322 bytes, before tracking is added.

Built by hand rather than with `email.message`: it is made once per contact,
and its shape is fixed (headers, then the text and HTML alternatives in UTF-8).
Bodies go as they are (7bit or 8bit, announced with BODY=8BITMIME, RFC 6152,
which practically every MTA offers) while no line passes 998 octets, else in
quoted-printable. The boundary starts with "=_", which quoted-printable never
produces and HTML or text practically never holds at a line's start.
"""

from __future__ import annotations

import binascii
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, getaddresses

from mailbeacon.errors import MailbeaconError


class AddressError(MailbeaconError):
    """The From address of a campaign is not one address."""


@dataclass(frozen=True, slots=True)
class FromAddress:
    header: str
    """The From field's value, its display name encoded if it is not ASCII."""
    address: str
    """The envelope sender (MAIL FROM)."""
    domain: str


def parse_from(value: str) -> FromAddress:
    """`"News <news@example.com>"` or `news@example.com`; AddressError for anything else.

    >>> parse_from("Ünïcode News <news@example.com>").header
    '=?utf-8?b?w5xuw69jb2RlIE5ld3M=?= <news@example.com>'
    """
    if "\r" in value or "\n" in value:
        raise AddressError(f"the From address {value!r} has a line break in it")
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1] or found[0][1].count("@") != 1:
        raise AddressError(f"the From address must be one address like 'News <news@example.com>', got {value!r}")
    name, address = found[0]
    local, domain = address.rsplit("@", 1)
    if not local or not domain or "." not in domain:
        raise AddressError(f"the From address {address!r} has no domain")
    return FromAddress(formataddr((name, address), charset="utf-8"), address, domain.lower())


def new_boundary() -> str:
    return f"=_mb_{secrets.token_hex(12)}"


def header_text(value: str) -> str:
    """A header field's value, RFC 2047-encoded when it is not ASCII, folded with CRLF."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, maxlinelen=78).encode(linesep="\r\n")


MAX_LINE = 998
"""RFC 5322 §2.1.1: octets a line may have, its CRLF not counted."""


def html_part(html: str) -> bytes:
    """The HTML as a part of its own, 7bit or 8bit: what the instrumenter scans and splices into.

    It stays so in the message unless a line passes 998 octets (the instrumenter then re-encodes it as
    quoted-printable itself): a sink reads a message line by line, and 76-character quoted-printable
    lines made aiosmtpd take 2.1 times longer for a 21 KB newsletter (400 lines, not 100)."""
    body = _crlf(html).encode("utf-8")
    return _part_head("text/html", "7bit" if body.isascii() else "8bit") + body


def untracked_html_part(part: bytes) -> bytes:
    """An `html_part` sent as it is (do-not-track): quoted-printable when a line passes 998 octets, as the
    instrumenter would have re-encoded it."""
    _, _, body = part.partition(b"\r\n\r\n")
    if _fits(body):
        return part
    return _part_head("text/html", "quoted-printable") + binascii.b2a_qp(body, istext=True)


def text_part(text: str) -> bytes:
    body = _crlf(text).encode("utf-8")
    if body.isascii() and _fits(body):
        return _part_head("text/plain", "7bit") + body
    if _fits(body):
        return _part_head("text/plain", "8bit") + body
    return _part_head("text/plain", "quoted-printable") + binascii.b2a_qp(body, istext=True)


def compose(*, headers: list[tuple[str, str]], html: bytes, text: str | None, boundary: str) -> bytes:
    """The message: `headers` (values ready to write), MIME-Version, and the body parts; `html` is the
    finished HTML part (`html_part`, instrumented or not)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers) + "MIME-Version: 1.0\r\n"
    if text is None:
        return head.encode("utf-8") + html
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join((
        head.encode("utf-8"),
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii"),
        delimiter,
        text_part(text),
        b"\r\n",
        delimiter,
        html,
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ))


def _part_head(content_type: str, encoding: str) -> bytes:
    return f"Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()


def _fits(body: bytes) -> bool:
    return max(map(len, body.split(b"\r\n")), default=0) <= MAX_LINE


def _crlf(body: str) -> str:
    crlf = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    if not crlf.endswith("\r\n"):
        crlf += "\r\n"  # b2a_qp breaks long lines with the line ending it finds first
    return crlf
