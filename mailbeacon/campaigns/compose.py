"""One contact's copy of a campaign as RFC 5322 bytes, before tracking is added.

Built by hand rather than with `email.message`: it is made once per contact,
and its shape is fixed (headers, then the text and HTML alternatives, each
UTF-8 in quoted-printable, so no line passes 998 octets and 7-bit relays take
it). The boundary starts with "=_", which quoted-printable never produces, so
no body can contain it.
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
    '=?utf-8?q?=C3=9Cn=C3=AFcode_News?= <news@example.com>'
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


HTML_8BIT = b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
QP_HEAD = "Content-Type: {}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"


def html_part(html: str) -> bytes:
    """The HTML as a part of its own, 8bit: what the instrumenter scans (no quoted-printable to undo)."""
    return HTML_8BIT + _crlf(html).encode("utf-8")


def quoted_printable(part: bytes) -> bytes:
    """An 8bit HTML part (instrumented or not) in quoted-printable; one the instrumenter re-encoded
    already (a line it made too long) stays as it is."""
    head, _, body = part.partition(b"\r\n\r\n")
    if b"quoted-printable" in head.lower():
        return part
    return QP_HEAD.format("text/html").encode("ascii") + binascii.b2a_qp(body, istext=True)


def compose(*, headers: list[tuple[str, str]], html: bytes, text: str | None, boundary: str) -> bytes:
    """The message: `headers` (values ready to write), MIME-Version, and the body parts; `html` is the
    finished HTML part (`quoted_printable`)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers) + "MIME-Version: 1.0\r\n"
    if text is None:
        return head.encode("utf-8") + html
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join((
        head.encode("utf-8"),
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii"),
        delimiter,
        QP_HEAD.format("text/plain").encode("ascii"),
        binascii.b2a_qp(_crlf(text).encode("utf-8"), istext=True),
        b"\r\n",
        delimiter,
        html,
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ))


def _crlf(body: str) -> str:
    crlf = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    if not crlf.endswith("\r\n"):
        crlf += "\r\n"  # b2a_qp breaks long lines with the line ending it finds first
    return crlf
