"""Copies personalised in their text share one scan of their marked skeleton, and come out as a full scan makes them.

The shared path puts each copy's values into the tracked skeleton's bytes; the
full path renders and scans each copy. Both must give the same message (up to
the tokens, which are random per delivery), for every kind of personalisation:
where a value sits where it could change tracking, the shared path steps aside.
"""

from __future__ import annotations

import email
import email.policy
import re
import secrets
from email.message import EmailMessage

import pytest

from mailbeacon.campaigns.copies import CopyMaker
from mailbeacon.campaigns.links import CampaignLinks
from mailbeacon.store import CampaignRow, ContactRow
from mailbeacon.tokens import Keyring

BASE = "https://t.example.com"
TEMPLATE = """<!DOCTYPE html><html><head><title>News</title>
<style>p { color: #333 }</style></head>
<body><!--[if mso]><table><tr><td><![endif]-->
<p>Hello {{ contact.first_name | default("there") }}, from {{ contact.city }}!</p>
<p>Read <a href="https://shop.example.com/news?utm_source=mail">the news</a> or
<a href="https://shop.example.com/offer">{{ contact.offer | default("our offer") }}</a>.</p>
<a href="https://shop.example.com/u/{{ contact.code }}">your own page</a>
<img src="https://shop.example.com/logo.png" alt="Logo for {{ contact.first_name }}">
<p style="font-size:11px">Sent to {{ contact.email }}. <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
<!--[if mso]></td></tr></table><![endif]--></body></html>
"""
PEOPLE = [
    {"first_name": "Bob", "city": "Oslo", "code": "b1"},
    {"first_name": "Zoë", "city": "São Paulo", "code": "z2"},
    {"first_name": "<script>alert(1)</script>", "city": "A & B", "code": "x3"},
    {"first_name": "Ann", "city": "Lagos", "offer": "https://evil.example/", "code": "a4"},  # a URL as link text
    {"city": "x" * 1200, "code": "l5"},  # a line past 998 octets once filled in
    {"first_name": "two\nlines", "city": "Paris", "code": "n6"},
    {"first_name": "\ue0000\ue001", "city": "Paris", "code": "m7"},  # the mark characters themselves
]


def campaign(html: str) -> CampaignRow:
    return CampaignRow(
        id=7, name="n", user_id=1, list_id=1, message_id=1, subject="Hi {{ contact.first_name }}",
        from_address="News <news@example.com>", html=html, text="Hi {{ contact.first_name }}", base_url=BASE,
        rate=None, status="sending", cursor=0, total=len(PEOPLE), queued=0, skipped=0, created_at=0.0,
        started_at=None, queued_at=None, finished_at=None,
    )


def contact(n: int, fields: dict[str, str]) -> ContactRow:
    return ContactRow(n + 1, f"person{n}@example.org", fields, None, None, None, 0.0, 0.0)


def html_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("html",))
    assert body is not None
    assert max(map(len, raw.split(b"\r\n"))) <= 998
    # Tokens are random per delivery: compare what they stand for, not their bytes.
    return re.sub(r"/(o|c)/[A-Za-z0-9_-]+", r"/\1/TOKEN", body.get_content())


@pytest.mark.parametrize("do_not_track", [False, True], ids=["tracked", "do-not-track"])
def test_the_shared_scan_gives_the_copy_a_full_scan_gives(do_not_track: bool) -> None:
    keyring = Keyring({0: secrets.token_bytes(32)}, 0)
    row = campaign(TEMPLATE)
    shared = CopyMaker(row, keyring, CampaignLinks({}))
    full = CopyMaker(row, keyring, CampaignLinks({}), share_marked=False)
    for n, fields in enumerate(PEOPLE):
        member = contact(n, fields)
        one, other = (maker.make(member, "Tue, 01 Dec 2026 10:00:00 +0000", do_not_track) for maker in (shared, full))
        assert html_of(one.body) == html_of(other.body), fields
        assert (one.opens_tracked, one.clicks_tracked, one.untracked_reason) == (
            other.opens_tracked, other.clicks_tracked, other.untracked_reason)


def test_copies_personalised_in_their_text_share_one_scan_and_a_link_text_value_does_not() -> None:
    keyring = Keyring({0: secrets.token_bytes(32)}, 0)
    maker = CopyMaker(campaign(TEMPLATE), keyring, CampaignLinks({}))
    for n, fields in enumerate(PEOPLE[:3]):
        maker.make(contact(n, fields), "Tue, 01 Dec 2026 10:00:00 +0000", False)
    # The link text `{{ contact.offer }}` is a mark inside a link: that skeleton is never shared.
    assert list(maker._skeletons.values()) == [None]  # noqa: SLF001 - what the cache holds is the point
    plain = campaign(TEMPLATE.replace('{{ contact.offer | default("our offer") }}', "our offer")
                     .replace("{{ contact.code }}", "all").replace(' alt="Logo for {{ contact.first_name }}"', ""))
    maker = CopyMaker(plain, keyring, CampaignLinks({}))
    copies = [maker.make(contact(n, fields), "Tue, 01 Dec 2026 10:00:00 +0000", False)
              for n, fields in enumerate(PEOPLE[:3])]
    assert len(maker._skeletons) == 1 and None not in maker._skeletons.values()  # noqa: SLF001
    assert len(maker._prepared) == 1  # noqa: SLF001 - three people, one scan
    assert "Hello Zoë, from São Paulo!" in html_of(copies[1].body)
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;, from A &amp; B!" in html_of(copies[2].body)
