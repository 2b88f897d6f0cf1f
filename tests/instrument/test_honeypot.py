"""The honeypot link: one per HTML part, invisible to people, a signed click of its own, never stacked."""

from __future__ import annotations

import re
from pathlib import Path

from mailbeacon.events import HONEYPOT_LINK, HONEYPOT_TARGET
from mailbeacon.instrument import Plan, TokenTracker, instrument_message
from mailbeacon.tokens import Keyring

ROOT = Path(__file__).resolve().parents[2]
KEYRING = Keyring({0: b"k" * 32}, active=0)
MESSAGE = (
    b"From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b'<html><body><p><a href="https://example.com/offer">the offer</a></p></body></html>\r\n'
)
HIDDEN = re.compile(rb'<a href="(http://t/c/([A-Za-z0-9_-]+))" style="display:none" aria-hidden="true" tabindex="-1"></a>')


def test_one_invisible_signed_link_before_the_end_of_the_body() -> None:
    with_trap = instrument_message(MESSAGE, Plan(honeypot=True), TokenTracker("http://t", KEYRING, b"d" * 12)).message
    plain = instrument_message(MESSAGE, Plan(), TokenTracker("http://t", KEYRING, b"d" * 12)).message
    (match,) = HIDDEN.findall(with_trap)
    token = KEYRING.verify_click(match[1].decode())
    assert (token.link, token.url, token.delivery) == (HONEYPOT_LINK, HONEYPOT_TARGET, b"d" * 12)
    assert with_trap.replace(HIDDEN.search(with_trap).group(0), b"") == plain  # type: ignore[union-attr]
    assert with_trap.index(b"display:none") < with_trap.index(b"</body>")


def test_no_honeypot_without_click_tracking() -> None:
    result = instrument_message(MESSAGE, Plan(clicks=False, honeypot=True), TokenTracker("http://t", KEYRING, b"d" * 12))
    assert not HIDDEN.search(result.message)


def test_instrumenting_again_leaves_one_live_honeypot() -> None:
    once = instrument_message(MESSAGE, Plan(honeypot=True), TokenTracker("http://t", KEYRING, b"d" * 12)).message
    twice = instrument_message(once, Plan(honeypot=True), TokenTracker("http://t", KEYRING, b"e" * 12))
    live = [KEYRING.verify_click(m[1].decode()) for m in HIDDEN.findall(twice.message)]
    assert [(t.delivery, t.link) for t in live] == [(b"e" * 12, HONEYPOT_LINK)]
    assert [link.reason.value for link in twice.report.links if link.target == HONEYPOT_TARGET] == [
        "an earlier honeypot link"
    ]
