"""A campaign copy's MIME shape: bodies as they are while lines fit, quoted-printable when not."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from mailbeacon.campaigns.compose import AddressError, compose, header_text, html_part, parse_from


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_copy_reads_back_as_written_with_both_alternatives() -> None:
    raw = compose(headers=[("Subject", header_text("Grüße, Zoë"))], html=html_part("<p>café</p>\n"),
                  text="Hi Zoë\n" + "x" * 1200 + "\n", boundary="=_mb_test")
    message = parse(raw)
    assert message["Subject"] == "Grüße, Zoë"
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and text is not None
    assert html["Content-Transfer-Encoding"] == "8bit" and html.get_content() == "<p>café</p>\r\n"
    assert text["Content-Transfer-Encoding"] == "quoted-printable"  # a line past 998 octets
    assert text.get_content().replace("\r\n", "\n") == "Hi Zoë\n" + "x" * 1200 + "\n"
    assert max(map(len, raw.split(b"\r\n"))) <= 998


def test_ascii_html_is_7bit() -> None:
    assert b"Content-Transfer-Encoding: 7bit" in html_part("<p>plain</p>")


@pytest.mark.parametrize("value", ["", "news", "a@b.com, c@d.com", "News <news@example.com>\r\nBcc: x@y.z",
                                   "news@localhost"])
def test_a_from_address_must_be_one_address_with_a_domain(value: str) -> None:
    with pytest.raises(AddressError):
        parse_from(value)
